// LLMLab dashboard: enhancement only; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // The workspace switcher submits itself when a workspace is picked.
  const select = document.querySelector("form.switcher select");
  if (select) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Copy buttons copy the text of the element they name.
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    });
  }
});
