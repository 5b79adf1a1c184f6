// LLMLab dashboard: enhancement only; every page works without it.
// The workspace switcher submits itself when a workspace is picked.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("form.switcher select");
  if (select) {
    select.addEventListener("change", () => select.form.submit());
  }
});
