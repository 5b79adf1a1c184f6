//! The event's usage: its token fields, or the provider's usage object read by
//! [`llmlab_engine::usage_object`], and its service tier.

use llmlab_engine::providers::{ImageQuality, ImageSize};
use llmlab_engine::usage_object::{self, Read};
use llmlab_engine::{EngineError, ServiceTier, Tokens, Units, UsageFields};

use crate::AppError;
use crate::ingest::EventIn;

/// Reads `usage` as `format` (see [`usage_object::read`]), its refusals as the API's
/// validation errors of the field they name.
pub fn read(usage: &serde_json::Value, format: Option<&str>) -> Result<Read, AppError> {
    usage_object::read(usage, format).map_err(|e| match e {
        EngineError::InvalidUsage { field, message } => AppError::invalid(field, message),
        e => e.into(),
    })
}

/// The service tier of `body`: `service_tier` (`default` and `auto` are `standard`) or
/// `batch: true`. `scale` (OpenAI's Scale Tier, bought as capacity rather than per token)
/// is refused like any tier without a per-token price.
fn service_tier(body: &EventIn) -> Result<(bool, ServiceTier), AppError> {
    let flag = body.batch.unwrap_or(false);
    let tier = match body.service_tier.as_deref().map(str::trim) {
        None | Some("default") | Some("auto") => ServiceTier::Standard,
        Some("scale") => {
            return Err(AppError::UnsupportedServiceTier {
                message: format!(
                    "{} has no per-token scale price (the Scale Tier is bought as capacity); \
                     send the call's cost as cost_usd, or send it as standard",
                    body.model.trim()
                ),
                offered: Vec::new(),
            });
        }
        Some(name) => ServiceTier::parse(name).ok_or_else(|| {
            AppError::invalid(
                "service_tier",
                format!("{name:?} is not standard, batch, flex or priority"),
            )
        })?,
    };
    // `batch: true` goes with no tier or `batch`; anything else contradicts it.
    let agrees = body.service_tier.is_none() || tier == ServiceTier::Batch;
    if flag && !agrees {
        return Err(AppError::invalid(
            "service_tier",
            "contradicts batch: true (send one of them)",
        ));
    }
    Ok((flag, tier))
}

/// `tokens` and the units of `body` beside them: its own fields, each over what its
/// usage object reports (`read`), and the images' size and quality.
fn with_units(body: &EventIn, tokens: Tokens, read: Units) -> Result<UsageFields, AppError> {
    let units = Units {
        images: body.images.unwrap_or(read.images),
        audio_input_seconds: body.audio_input_seconds.unwrap_or(read.audio_input_seconds),
        output_characters: body.output_characters.unwrap_or(read.output_characters),
        web_search_calls: body.web_search_calls.unwrap_or(read.web_search_calls),
        code_sessions: body.code_sessions.unwrap_or(read.code_sessions),
    };
    let mut fields = UsageFields::new(tokens).with_units(units);
    if let Some(size) = body.image_size.as_deref() {
        let size = ImageSize::parse(size.trim()).ok_or_else(|| {
            let sizes: Vec<&str> = ImageSize::ALL.iter().map(|s| s.as_str()).collect();
            AppError::invalid("image_size", format!("must be one of {}", sizes.join(", ")))
        })?;
        let quality = match body.image_quality.as_deref() {
            None => None,
            Some(q) => Some(ImageQuality::parse(q.trim()).ok_or_else(|| {
                let names: Vec<&str> = ImageQuality::ALL.iter().map(|q| q.as_str()).collect();
                AppError::invalid(
                    "image_quality",
                    format!("must be one of {}", names.join(", ")),
                )
            })?),
        };
        fields = fields.with_image(size, quality);
    } else if body.image_quality.is_some() {
        return Err(AppError::invalid(
            "image_size",
            "required with image_quality",
        ));
    }
    Ok(fields)
}

/// Whether `body` reports any unit beside tokens (then its token fields default to 0).
fn has_units(body: &EventIn) -> bool {
    [
        body.images,
        body.audio_input_seconds,
        body.output_characters,
        body.web_search_calls,
        body.code_sessions,
    ]
    .iter()
    .any(Option::is_some)
        || body.image_size.is_some()
        || body.image_quality.is_some()
}

/// The token buckets of `body`: its own fields, or read from its provider `usage`
/// object (never both); its other units beside them.
pub fn fields(body: &EventIn) -> Result<UsageFields, AppError> {
    let (batch, service_tier) = service_tier(body)?;
    let Some(usage) = &body.usage else {
        if body.usage_format.is_some() {
            return Err(AppError::invalid(
                "usage_format",
                "goes with a usage object",
            ));
        }
        // A call billed only per image, minute or character may leave its tokens out.
        let tokens_optional = has_units(body);
        let required = |field: &str, v: Option<i64>| match v {
            None if tokens_optional => Ok(0),
            v => {
                v.ok_or_else(|| AppError::invalid(field, "required (or send the provider's usage)"))
            }
        };
        let tokens = Tokens {
            input: required("input_tokens", body.input_tokens)?,
            output: required("output_tokens", body.output_tokens)?,
            cached_input: body.cached_input_tokens.unwrap_or(0),
            cache_write: body.cache_write_tokens.unwrap_or(0),
            reasoning: body.reasoning_tokens.unwrap_or(0),
            cache_write_1h: body.cache_write_1h_tokens.unwrap_or(0),
            input_audio: body.input_audio_tokens.unwrap_or(0),
            output_audio: body.output_audio_tokens.unwrap_or(0),
        };
        return Ok(with_units(body, tokens, Units::default())?
            .with_batch(batch)
            .with_service_tier(service_tier));
    };
    let token_fields = [
        body.input_tokens,
        body.output_tokens,
        body.cached_input_tokens,
        body.cache_write_tokens,
        body.reasoning_tokens,
        body.cache_write_1h_tokens,
        body.input_audio_tokens,
        body.output_audio_tokens,
    ];
    if token_fields.iter().any(Option::is_some) {
        return Err(AppError::invalid(
            "usage",
            "send either the provider's usage object or the token fields, not both",
        ));
    }
    let read = read(usage, body.usage_format.as_deref())?;
    Ok(with_units(body, read.tokens, read.units)?
        .with_batch(batch)
        .with_service_tier(service_tier))
}

/// The token buckets a stored event was priced on.
pub fn stored_usage(row: &llmlab_store::EventRow) -> Result<llmlab_engine::Usage, AppError> {
    let mut fields = UsageFields::new(crate::tokens::from_store(&row.tokens))
        .with_units(crate::tokens::units_from_store(&row.units));
    if let Some((size, quality)) = crate::tokens::image_from_store(row.image.as_deref()) {
        fields = fields.with_image(size, Some(quality));
    }
    Ok(llmlab_engine::Usage::parse(
        fields.with_batch(row.batch).with_service_tier(
            match ServiceTier::parse(&row.service_tier) {
                Some(ServiceTier::Batch) | None => ServiceTier::Standard,
                Some(tier) => tier,
            },
        ),
    )?)
}
