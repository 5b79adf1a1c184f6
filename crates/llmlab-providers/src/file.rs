//! The catalog file format (one TOML file per provider) and its validation.
//!
//! Raw structs mirror the file; [`parse_provider_file`] turns them into validated
//! [`ModelEntry`] values or an error naming the file, the model and the field.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::CatalogError;
use crate::model::{Alternative, ModelEntry, Relation, Tier};
use crate::price::{LongContextTier, PerMTok, PriceVersion, Rates};
use crate::units::{ImageQuality, ImageSize, UnitPrice, UnitRates};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    provider: String,
    display_name: Option<String>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    strip_prefixes: Vec<String>,
    #[serde(default)]
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    snapshots: Vec<String>,
    family: Option<String>,
    tier: Tier,
    context_window: Option<u64>,
    max_output_tokens: Option<u64>,
    vision: Option<bool>,
    tools: Option<bool>,
    #[serde(default)]
    deprecated: bool,
    #[serde(default)]
    alternatives: Vec<RawAlternative>,
    #[serde(default)]
    prices: Vec<RawPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlternative {
    provider: Option<String>,
    model: String,
    relation: Relation,
    rationale: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    effective_from: NaiveDate,
    input: String,
    output: String,
    cached_input: Option<String>,
    cache_write: Option<String>,
    batch_discount_pct: Option<u8>,
    source: String,
    checked: NaiveDate,
    cache_write_1h: Option<String>,
    input_audio: Option<String>,
    output_audio: Option<String>,
    long_context: Option<RawLongContext>,
    fine_tuned: Option<RawRates>,
    flex: Option<RawRates>,
    priority: Option<RawRates>,
    units: Option<RawUnits>,
}

/// `[models.prices.units]`: what a price version bills beside tokens, whatever the
/// tier or the prompt's length.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnits {
    #[serde(default)]
    images: Vec<RawImage>,
    audio_input_minute: Option<String>,
    output_character: Option<String>,
    web_search_call: Option<String>,
    code_session: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    size: String,
    quality: String,
    usd: String,
}

/// Declares a catalog table's struct with `RawRates`'s seven rates after its own
/// fields: serde's `flatten` does not work with `deny_unknown_fields`, which catches a
/// misspelt rate in a catalog file.
macro_rules! with_rates {
    ($(#[$meta:meta])* struct $name:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        struct $name {
            $($field: $ty,)*
            input: String,
            output: String,
            cached_input: Option<String>,
            cache_write: Option<String>,
            cache_write_1h: Option<String>,
            input_audio: Option<String>,
            output_audio: Option<String>,
        }
    };
}

with_rates! {
    #[derive(Deserialize, Clone)]
    #[serde(deny_unknown_fields)]
    struct RawRates {}
}

with_rates! {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawLongContext {
        threshold_tokens: u64,
    }
}

// `RawPrice` and `RawLongContext` carry their rates as fields of their own (see
// `with_rates!`); this gathers them back into one `RawRates`, from either.
macro_rules! raw_rates {
    ($raw:expr) => {
        RawRates {
            input: $raw.input.clone(),
            output: $raw.output.clone(),
            cached_input: $raw.cached_input.clone(),
            cache_write: $raw.cache_write.clone(),
            cache_write_1h: $raw.cache_write_1h.clone(),
            input_audio: $raw.input_audio.clone(),
            output_audio: $raw.output_audio.clone(),
        }
    };
}

impl RawPrice {
    fn standard(&self) -> RawRates {
        raw_rates!(self)
    }
}

impl RawLongContext {
    fn rates(&self) -> RawRates {
        raw_rates!(self)
    }
}

/// A provider as read from one file.
pub(crate) struct ProviderFile {
    pub id: String,
    pub display_name: String,
    pub prefixes: Vec<String>,
    pub strip_prefixes: Vec<String>,
    pub models: Vec<ModelEntry>,
}

struct Ctx<'a> {
    file: &'a str,
    model: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> CatalogError {
        CatalogError::Invalid {
            file: self.file.to_string(),
            model: self.model.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn price(&self, field: &str, s: &str) -> Result<PerMTok, CatalogError> {
        PerMTok::parse(s).map_err(|e| self.err(field, e.to_string()))
    }

    fn opt_price(&self, field: &str, s: Option<&String>) -> Result<Option<PerMTok>, CatalogError> {
        s.map(|s| self.price(field, s)).transpose()
    }

    fn rates(&self, prefix: &str, r: &RawRates) -> Result<Rates, CatalogError> {
        let opt = |f: &str, v: &Option<String>| self.opt_price(&format!("{prefix}{f}"), v.as_ref());
        Ok(Rates {
            input: self.price(&format!("{prefix}input"), &r.input)?,
            output: self.price(&format!("{prefix}output"), &r.output)?,
            cached_input: opt("cached_input", &r.cached_input)?,
            cache_write: opt("cache_write", &r.cache_write)?,
            cache_write_1h: opt("cache_write_1h", &r.cache_write_1h)?,
            input_audio: opt("input_audio", &r.input_audio)?,
            output_audio: opt("output_audio", &r.output_audio)?,
            units: UnitRates::default(),
        })
    }

    fn units(&self, prefix: &str, raw: Option<&RawUnits>) -> Result<UnitRates, CatalogError> {
        let Some(raw) = raw else {
            return Ok(UnitRates::default());
        };
        let price = |f: &str, s: &str| {
            UnitPrice::parse(s).map_err(|e| self.err(&format!("{prefix}{f}"), e.to_string()))
        };
        let opt = |f: &str, s: &Option<String>| s.as_deref().map(|s| price(f, s)).transpose();
        let mut units = UnitRates {
            audio_input_minute: opt("audio_input_minute", &raw.audio_input_minute)?,
            output_character: opt("output_character", &raw.output_character)?,
            web_search_call: opt("web_search_call", &raw.web_search_call)?,
            code_session: opt("code_session", &raw.code_session)?,
            ..UnitRates::default()
        };
        for (i, image) in raw.images.iter().enumerate() {
            let field = |f: &str| format!("images[{i}].{f}");
            // `any`: the model bills every size alike.
            let size = match image.size.as_str() {
                "any" => None,
                s => Some(ImageSize::parse(s).ok_or_else(|| {
                    self.err(&format!("{prefix}{}", field("size")), "unknown size")
                })?),
            };
            let quality = ImageQuality::parse(&image.quality).ok_or_else(|| {
                self.err(&format!("{prefix}{}", field("quality")), "unknown quality")
            })?;
            if units
                .images
                .iter()
                .any(|(s, q, _)| (s, q) == (size, quality))
            {
                return Err(self.err(
                    &format!("{prefix}{}", field("size")),
                    "a size and quality may be priced once",
                ));
            }
            let usd = price(&field("usd"), &image.usd)?;
            units.images = match size {
                Some(size) => units.images.with(size, quality, usd),
                None => units.images.with_any_size(quality, usd),
            };
        }
        Ok(units)
    }

    /// Rates of a service tier (`flex`, `priority`): priced on their own, so the
    /// long-context and fine-tune variants cannot apply to them.
    fn tier(
        &self,
        field: &str,
        raw: Option<&RawRates>,
        p: &RawPrice,
    ) -> Result<Option<Rates>, CatalogError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        if p.long_context.is_some() {
            return Err(self.err(
                field,
                "a service tier cannot be combined with a long-context tier in one price version",
            ));
        }
        self.rates(&format!("{field}."), raw).map(Some)
    }
}

/// Lower-cases and trims a name the way resolution does.
pub(crate) fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

pub(crate) fn parse_provider_file(file: &str, text: &str) -> Result<ProviderFile, CatalogError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| CatalogError::Syntax {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    let provider = normalize(&raw.provider);
    let file_ctx = Ctx { file, model: "-" };
    if provider.is_empty()
        || !provider
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(file_ctx.err("provider", "must be a non-empty lowercase id ([a-z0-9_-])"));
    }
    let strip_prefixes: Vec<String> = raw.strip_prefixes.iter().map(|p| normalize(p)).collect();
    if strip_prefixes
        .iter()
        .any(|p| p.is_empty() || p.contains('/'))
    {
        return Err(file_ctx.err(
            "strip_prefixes",
            "entries must be non-empty and contain no '/' (use `prefixes` for `name/` forms)",
        ));
    }
    let mut models = Vec::with_capacity(raw.models.len());
    for m in raw.models {
        models.push(convert_model(file, &provider, m)?);
    }
    Ok(ProviderFile {
        display_name: raw.display_name.unwrap_or_else(|| provider.clone()),
        prefixes: raw.prefixes.iter().map(|p| normalize(p)).collect(),
        strip_prefixes,
        id: provider,
        models,
    })
}

fn convert_model(file: &str, provider: &str, m: RawModel) -> Result<ModelEntry, CatalogError> {
    let name = normalize(&m.name);
    let ctx = Ctx { file, model: &name };
    if name.is_empty() {
        return Err(ctx.err("name", "must not be empty"));
    }
    if m.prices.is_empty() {
        return Err(ctx.err("prices", "a model needs at least one price version"));
    }
    let mut prices = Vec::with_capacity(m.prices.len());
    for (i, p) in m.prices.iter().enumerate() {
        let field = |f: &str| format!("prices[{i}].{f}");
        // Unit prices do not change with the tier or the prompt's length: every set of
        // rates in the version carries them.
        let units = ctx.units(&field("units."), p.units.as_ref())?;
        let rates = ctx.rates(&field(""), &p.standard())?.with_units(units);
        let long_context = match &p.long_context {
            Some(lc) => {
                if lc.threshold_tokens == 0 {
                    return Err(ctx.err(&field("long_context.threshold_tokens"), "must be > 0"));
                }
                Some(LongContextTier {
                    threshold_tokens: lc.threshold_tokens,
                    rates: ctx
                        .rates(&field("long_context."), &lc.rates())?
                        .with_units(units),
                })
            }
            None => None,
        };
        let fine_tuned = match &p.fine_tuned {
            Some(r) => Some(ctx.rates(&field("fine_tuned."), r)?.with_units(units)),
            None => None,
        };
        let with_units = |r: Option<Rates>| r.map(|r| r.with_units(units));
        let flex = with_units(ctx.tier(&field("flex"), p.flex.as_ref(), p)?);
        let priority = with_units(ctx.tier(&field("priority"), p.priority.as_ref(), p)?);
        if let Some(d) = p.batch_discount_pct
            && d > 100
        {
            return Err(ctx.err(&field("batch_discount_pct"), "must be between 0 and 100"));
        }
        if p.source.trim().is_empty() {
            return Err(ctx.err(&field("source"), "every price needs its source"));
        }
        if let Some(prev) = prices.last().map(|v: &PriceVersion| v.effective_from)
            && prev >= p.effective_from
        {
            return Err(ctx.err(
                &field("effective_from"),
                "price versions must be sorted by effective_from, oldest first, without repeats",
            ));
        }
        prices.push(PriceVersion {
            effective_from: p.effective_from,
            rates,
            batch_discount_pct: p.batch_discount_pct,
            long_context,
            fine_tuned,
            flex,
            priority,
            source: p.source.trim().to_string(),
            checked: p.checked,
        });
    }
    let alternatives = m
        .alternatives
        .into_iter()
        .map(|a| Alternative {
            provider: a
                .provider
                .map_or_else(|| provider.to_string(), |p| normalize(&p)),
            model: normalize(&a.model),
            relation: a.relation,
            rationale: a.rationale,
        })
        .collect();
    Ok(ModelEntry {
        provider: provider.to_string(),
        family: m.family.map_or_else(|| name.clone(), |f| normalize(&f)),
        aliases: m.aliases.iter().map(|a| normalize(a)).collect(),
        snapshots: m.snapshots.iter().map(|s| normalize(s)).collect(),
        name,
        tier: m.tier,
        context_window: m.context_window,
        max_output_tokens: m.max_output_tokens,
        vision: m.vision,
        tools: m.tools,
        deprecated: m.deprecated,
        alternatives,
        prices,
    })
}
