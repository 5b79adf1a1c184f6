//! The catalog: providers, their models, and name resolution.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::CatalogError;
use crate::file::{normalize, parse_provider_file};
use crate::model::ModelEntry;

/// The catalog files compiled into the binary: `(file name, contents)`.
const BUILTIN: &[(&str, &str)] = &[
    ("openai.toml", include_str!("../catalog/openai.toml")),
    ("anthropic.toml", include_str!("../catalog/anthropic.toml")),
    ("google.toml", include_str!("../catalog/google.toml")),
    ("mistral.toml", include_str!("../catalog/mistral.toml")),
    ("deepseek.toml", include_str!("../catalog/deepseek.toml")),
    ("xai.toml", include_str!("../catalog/xai.toml")),
    ("cohere.toml", include_str!("../catalog/cohere.toml")),
    ("azure.toml", include_str!("../catalog/azure.toml")),
    ("bedrock.toml", include_str!("../catalog/bedrock.toml")),
];

/// One provider of the catalog.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Lowercase id (`openai`).
    pub id: String,
    /// Human name (`OpenAI`).
    pub display_name: String,
    prefixes: Vec<String>,
    /// Name prefixes stripped before lookup when no exact name matches (Bedrock's
    /// cross-region inference profiles: `us.`, `eu.`, `apac.`, `global.`).
    strip_prefixes: Vec<String>,
    models: Vec<ModelEntry>,
    /// Every exact name (canonical, alias, name+snapshot forms) → index into `models`.
    index: HashMap<String, usize>,
    /// File each model came from, for error messages on collisions.
    origin: Vec<String>,
}

impl Provider {
    /// The provider's models, in file order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The entry with this canonical name.
    pub fn model(&self, canonical: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == canonical)
    }
}

/// A model name resolved to a catalog entry.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The entry that prices the call.
    pub entry: &'a ModelEntry,
    /// The name was an OpenAI fine-tune (`ft:base:org::id`) of `entry`.
    pub fine_tuned: bool,
}

/// The pricing catalog: validated providers and models, indexed for resolution.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    providers: Vec<Provider>,
}

impl Catalog {
    /// The built-in catalog, parsed and validated once per process.
    ///
    /// The embedded files are checked by this crate's tests, so a malformed entry fails
    /// the build's test run, never a request.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            #[allow(clippy::expect_used)] // validated by `builtin_catalog_is_valid`
            Catalog::from_sources(BUILTIN.iter().copied()).expect("built-in catalog is valid")
        })
    }

    /// Builds a catalog from `(file name, TOML text)` pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        for (file, text) in sources {
            catalog.add_file(file, text)?;
        }
        catalog.check_alternatives()?;
        Ok(catalog)
    }

    /// A copy of this catalog extended by the file or directory of `*.toml` files at
    /// `path`: its entries add models, and replace built-in entries of the same
    /// provider and canonical name.
    ///
    /// ```
    /// use llmlab_providers::Catalog;
    ///
    /// let dir = std::env::temp_dir().join(format!("llmlab-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("ours.toml"), r#"
    /// provider = "anthropic"
    /// display_name = "Anthropic"
    ///
    /// [[models]]
    /// name = "claude-internal"
    /// family = "claude-sonnet"
    /// tier = "mid"
    ///
    /// [[models.prices]]
    /// effective_from = "2025-01-01"
    /// input = "2.40"
    /// output = "12"
    /// source = "our contract"
    /// checked = "2025-01-01"
    /// "#).unwrap();
    /// let catalog = Catalog::builtin().extended_with_path(&dir).unwrap();
    /// assert!(catalog.resolve("anthropic", "claude-internal").is_ok());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn extended_with_path(&self, path: &Path) -> Result<Catalog, CatalogError> {
        let io = |e: std::io::Error| CatalogError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in std::fs::read_dir(path).map_err(io)? {
                let p = entry.map_err(io)?.path();
                if p.extension().is_some_and(|e| e == "toml") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        let mut texts = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| CatalogError::Io {
                file: f.display().to_string(),
                message: e.to_string(),
            })?;
            texts.push((f.display().to_string(), text));
        }
        self.extended_with_sources(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))
    }

    /// A copy of this catalog extended by `(name, TOML text)` pairs held in memory (the
    /// format of the built-in files), as [`Catalog::extended_with_path`] extends it by
    /// files: entries add models, and replace built-in entries of the same provider and
    /// canonical name. `name` only names the text in errors.
    ///
    /// ```
    /// use llmlab_providers::Catalog;
    ///
    /// let ours = r#"
    /// provider = "openai"
    /// display_name = "OpenAI"
    ///
    /// [[models]]
    /// name = "ft-support-bot"
    /// family = "gpt-4o"
    /// tier = "small"
    ///
    /// [[models.prices]]
    /// effective_from = "2025-01-01"
    /// input = "0.30"
    /// output = "1.20"
    /// source = "our contract"
    /// checked = "2025-01-01"
    /// "#;
    /// let catalog = Catalog::builtin().extended_with_sources([("ours.toml", ours)]).unwrap();
    /// assert!(catalog.resolve("openai", "ft-support-bot").is_ok());
    /// assert!(catalog.resolve("openai", "gpt-4o").is_ok(), "the built-in models stay");
    /// ```
    pub fn extended_with_sources<'a>(
        &self,
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = self.clone();
        for (name, text) in sources {
            catalog.add_file(name, text)?;
        }
        catalog.check_alternatives()?;
        Ok(catalog)
    }

    fn add_file(&mut self, file: &str, text: &str) -> Result<(), CatalogError> {
        let parsed = parse_provider_file(file, text)?;
        let pos = match self.providers.iter().position(|p| p.id == parsed.id) {
            Some(pos) => pos,
            None => {
                self.providers.push(Provider {
                    id: parsed.id.clone(),
                    display_name: parsed.display_name.clone(),
                    prefixes: Vec::new(),
                    strip_prefixes: Vec::new(),
                    models: Vec::new(),
                    index: HashMap::new(),
                    origin: Vec::new(),
                });
                self.providers.len() - 1
            }
        };
        let provider = &mut self.providers[pos];
        for p in parsed.prefixes {
            if !provider.prefixes.contains(&p) {
                provider.prefixes.push(p);
            }
        }
        for p in parsed.strip_prefixes {
            if !provider.strip_prefixes.contains(&p) {
                provider.strip_prefixes.push(p);
            }
        }
        for model in parsed.models {
            match provider.models.iter().position(|m| m.name == model.name) {
                Some(i) => {
                    provider.models[i] = model;
                    provider.origin[i] = file.to_string();
                }
                None => {
                    provider.models.push(model);
                    provider.origin.push(file.to_string());
                }
            }
        }
        provider.reindex()
    }

    fn check_alternatives(&self) -> Result<(), CatalogError> {
        for p in &self.providers {
            for (m, file) in p.models.iter().zip(&p.origin) {
                for alt in &m.alternatives {
                    if self.model(&alt.provider, &alt.model).is_none() {
                        return Err(CatalogError::Invalid {
                            file: file.clone(),
                            model: m.name.clone(),
                            field: "alternatives".into(),
                            message: format!(
                                "'{}/{}' is not a canonical model of the catalog",
                                alt.provider, alt.model
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// All providers, in load order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider with this id (case-insensitive).
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        let id = id.trim();
        self.providers
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id))
    }

    /// The entry with this exact canonical name.
    pub fn model(&self, provider: &str, canonical: &str) -> Option<&ModelEntry> {
        self.provider(provider)?.model(canonical)
    }

    /// Resolves a model name as clients send it: case-insensitive, with provider prefixes
    /// (`openai/gpt-4o`, `models/gemini-1.5-pro`), the provider's `strip_prefixes`
    /// (`us.anthropic.claude-…` for Bedrock), dated snapshots (`-2024-08-06`,
    /// `-20240307`, `@20240620`, `-002`), `-latest`, and OpenAI fine-tunes (`ft:base:org::id`).
    ///
    /// An exact entry (a snapshot priced differently from its family has its own) always
    /// wins over suffix stripping.
    pub fn resolve(&self, provider: &str, model: &str) -> Result<Resolved<'_>, CatalogError> {
        let p = self
            .provider(provider)
            .ok_or_else(|| CatalogError::UnknownProvider {
                provider: provider.to_string(),
                known: self.providers.iter().map(|p| p.id.clone()).collect(),
            })?;
        let name: Cow<'_, str> = if model.bytes().any(|b| b.is_ascii_uppercase() || b == b' ') {
            Cow::Owned(normalize(model))
        } else {
            Cow::Borrowed(model)
        };
        if let Some(&i) = p.index.get(name.as_ref()) {
            return Ok(Resolved {
                entry: &p.models[i],
                fine_tuned: false,
            });
        }
        p.resolve_slow(&name)
            .ok_or_else(|| CatalogError::UnknownModel {
                provider: p.id.clone(),
                model: model.to_string(),
                suggestions: p.suggestions(&name),
            })
    }
}

impl Provider {
    /// Rebuilds the exact-name index, failing on a name two entries claim.
    fn reindex(&mut self) -> Result<(), CatalogError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, m) in self.models.iter().enumerate() {
            for key in exact_names(m) {
                if let Some(&other) = index.get(&key)
                    && other != i
                {
                    return Err(CatalogError::Invalid {
                        file: self.origin[i].clone(),
                        model: m.name.clone(),
                        field: "aliases".into(),
                        message: format!(
                            "name '{key}' is also claimed by model '{}'",
                            self.models[other].name
                        ),
                    });
                }
                index.insert(key, i);
            }
        }
        self.index = index;
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&ModelEntry> {
        self.index.get(name).map(|&i| &self.models[i])
    }

    fn resolve_slow(&self, name: &str) -> Option<Resolved<'_>> {
        let name = name.trim();
        // Provider prefixes: `openai/gpt-4o`, `models/gemini-pro`, `vertex_ai/...`.
        if let Some((prefix, rest)) = name.split_once('/') {
            let known = prefix == self.id
                || prefix == "models"
                || self
                    .prefixes
                    .iter()
                    .any(|p| p.trim_end_matches('/') == prefix);
            if known {
                return self
                    .lookup(rest)
                    .map(|entry| Resolved {
                        entry,
                        fine_tuned: false,
                    })
                    .or_else(|| self.resolve_slow(rest));
            }
            return None;
        }
        // Name prefixes such as Bedrock's cross-region inference profiles
        // (`us.anthropic.claude-…`): stripped once, then the rest looked up. An exact
        // name (an entry that claims the prefixed form) has already won above.
        for p in &self.strip_prefixes {
            if let Some(rest) = name.strip_prefix(p.as_str())
                && !rest.is_empty()
                && let Some(entry) = self.lookup(rest).or_else(|| self.strip_suffixes(rest))
            {
                return Some(Resolved {
                    entry,
                    fine_tuned: false,
                });
            }
        }
        // OpenAI fine-tunes: `ft:gpt-4o-mini-2024-07-18:org:name:id`.
        if let Some(rest) = name.strip_prefix("ft:") {
            let base = rest.split(':').next().unwrap_or(rest);
            let entry = self.lookup(base).or_else(|| self.strip_suffixes(base))?;
            return Some(Resolved {
                entry,
                fine_tuned: true,
            });
        }
        self.strip_suffixes(name).map(|entry| Resolved {
            entry,
            fine_tuned: false,
        })
    }

    /// Strips one snapshot or `-latest` suffix at a time and looks the rest up.
    fn strip_suffixes(&self, name: &str) -> Option<&ModelEntry> {
        let mut current = name;
        for _ in 0..3 {
            let stripped = strip_one_suffix(current)?;
            if let Some(e) = self.lookup(stripped) {
                return Some(e);
            }
            current = stripped;
        }
        None
    }

    /// Up to three known names closest to `name` by edit distance.
    fn suggestions(&self, name: &str) -> Vec<String> {
        let mut scored: Vec<(usize, &str)> = self
            .models
            .iter()
            .flat_map(|m| {
                std::iter::once(m.name.as_str()).chain(m.aliases.iter().map(String::as_str))
            })
            .map(|k| (levenshtein(name, k), k))
            .collect();
        scored.sort();
        let mut out: Vec<String> = Vec::new();
        for (_, k) in scored {
            if !out.iter().any(|o| o == k) {
                out.push(k.to_string());
            }
            if out.len() == 3 {
                break;
            }
        }
        out
    }
}

/// Every exact spelling of an entry: name and aliases, each alone, with `-latest`, and
/// with each snapshot suffix in the forms providers use.
fn exact_names(m: &ModelEntry) -> Vec<String> {
    let mut out = Vec::new();
    for base in std::iter::once(&m.name).chain(&m.aliases) {
        out.push(base.clone());
        out.push(format!("{base}-latest"));
        for s in &m.snapshots {
            out.push(format!("{base}-{s}"));
            out.push(format!("{base}@{s}"));
            let compact: String = s.chars().filter(|c| *c != '-').collect();
            if compact != *s {
                out.push(format!("{base}-{compact}"));
                out.push(format!("{base}@{compact}"));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Removes one trailing `-latest`, `-YYYY-MM-DD`, `-YYYYMMDD`, `@YYYYMMDD`, `-MMDD` or
/// `-NNN` (Gemini versions) suffix.
fn strip_one_suffix(name: &str) -> Option<&str> {
    if let Some(rest) = name.strip_suffix("-latest") {
        return Some(rest);
    }
    if let Some((rest, date)) = name.rsplit_once('@') {
        return (!rest.is_empty() && !date.is_empty()).then_some(rest);
    }
    // -YYYY-MM-DD; `get` because the 11th byte from the end may be inside a multi-byte
    // character of a name no catalog holds (which must not panic the caller).
    if name.len() > 11
        && let Some(tail) = name.get(name.len() - 11..)
    {
        let t = tail.as_bytes();
        if t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && t[1..5]
                .iter()
                .chain(&t[6..8])
                .chain(&t[9..11])
                .all(u8::is_ascii_digit)
        {
            return Some(&name[..name.len() - 11]);
        }
    }
    let (rest, digits) = name.rsplit_once('-')?;
    if !rest.is_empty()
        && matches!(digits.len(), 3 | 4 | 8)
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(rest);
    }
    None
}

/// Classic edit distance (insert, delete, substitute), on bytes: names are ASCII.
fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any name resolves or fails; none panics (a multi-byte character where a date
    /// suffix would start once did).
    #[test]
    fn non_ascii_names_never_panic() {
        let catalog = Catalog::builtin();
        for name in [
            "𬏌񳙏èÛ",
            "\u{80}\u{80}𐀀𐀀",
            "gpt-4o-2024-08-0é",
            "é-2024-08-06",
            "ééééééééééé@",
        ] {
            let _ = strip_one_suffix(name);
            for provider in ["openai", "anthropic", "google"] {
                let _ = catalog.resolve(provider, name);
            }
        }
    }

    #[test]
    fn suffixes_strip_one_at_a_time() {
        assert_eq!(strip_one_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(
            strip_one_suffix("claude-3-haiku-20240307"),
            Some("claude-3-haiku")
        );
        assert_eq!(
            strip_one_suffix("claude-3-5-sonnet@20240620"),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(
            strip_one_suffix("gemini-1.5-pro-002"),
            Some("gemini-1.5-pro")
        );
        assert_eq!(strip_one_suffix("gpt-4-0613"), Some("gpt-4"));
        assert_eq!(strip_one_suffix("gpt-4o-latest"), Some("gpt-4o"));
        assert_eq!(strip_one_suffix("gpt-4o"), None);
        assert_eq!(strip_one_suffix("o1"), None);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("gpt-4x", "gpt-4o"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
