//! Prices of what is not billed per token: images, minutes of audio in, characters of
//! speech out, web searches and code sessions.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::price::PriceParseError;

/// A price in USD for one unit (an image, a minute of audio, a character, a search, a
/// session), held exactly as pico-dollars.
///
/// Providers publish per-unit prices with at most six decimals (`$0.000015` a character);
/// nine are accepted. `units × price` is then an exact count of pico-dollars, and the
/// engine rounds an event's total once, as it does for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnitPrice(u64);

/// Largest accepted price: $1,000 a unit, far above any published one.
const MAX_PICOS: u64 = 1_000 * 1_000_000_000_000;

impl UnitPrice {
    /// Builds a price from pico-dollars per unit.
    pub fn from_picos(picos: u64) -> Option<UnitPrice> {
        (picos <= MAX_PICOS).then_some(UnitPrice(picos))
    }

    /// The price in pico-dollars per unit.
    pub fn picos(self) -> u64 {
        self.0
    }

    /// Parses a decimal such as `"0.04"` or `"0.000015"` (at most 9 decimals, non-negative).
    pub fn parse(s: &str) -> Result<UnitPrice, UnitPriceParseError> {
        let err = || UnitPriceParseError(s.trim().to_string());
        let nanos = crate::price::parse_scaled(s, 9).ok_or_else(err)?;
        nanos
            .checked_mul(1_000)
            .and_then(UnitPrice::from_picos)
            .ok_or_else(err)
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0 / 1_000;
        let (int, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        if frac == 0 {
            return write!(f, "{int}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{int}.{}", digits.trim_end_matches('0'))
    }
}

impl Serialize for UnitPrice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A price string that is not a non-negative decimal of at most 9 decimals and $1,000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a price in USD per unit (a non-negative decimal, at most 9 decimals)")]
pub struct UnitPriceParseError(pub String);

impl From<UnitPriceParseError> for PriceParseError {
    fn from(e: UnitPriceParseError) -> PriceParseError {
        PriceParseError(e.0)
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire (and stored) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    serde::de::Error::custom(format!("{s:?} is not one of {}", names.join(", ")))
                })
            }
        }
    };
}

wire_enum! {
    /// The size of a generated image, as the image APIs name it.
    ImageSize {
        /// 256×256 (dall-e-2).
        S256 = "256x256",
        /// 512×512 (dall-e-2).
        S512 = "512x512",
        /// 1024×1024.
        S1024 = "1024x1024",
        /// 1024×1792, portrait (dall-e-3).
        S1024x1792 = "1024x1792",
        /// 1792×1024, landscape (dall-e-3).
        S1792x1024 = "1792x1024",
        /// 1024×1536, portrait (gpt-image-1).
        S1024x1536 = "1024x1536",
        /// 1536×1024, landscape (gpt-image-1).
        S1536x1024 = "1536x1024",
    }
}

wire_enum! {
    /// The quality a generated image was asked for.
    ImageQuality {
        /// dall-e-3's default (and dall-e-2's only quality).
        Standard = "standard",
        /// dall-e-3's high-definition quality.
        Hd = "hd",
        /// gpt-image-1's low quality.
        Low = "low",
        /// gpt-image-1's medium quality.
        Medium = "medium",
        /// gpt-image-1's high quality.
        High = "high",
    }
}

const SIZES: usize = 7;
const QUALITIES: usize = 5;

/// A model's price per image, by size and quality, or by quality whatever the size (a
/// model that bills every size alike, written `size = "any"` in a catalog file).
/// Fixed-size, so [`Rates`](crate::Rates) stays `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePrices {
    sized: [Option<UnitPrice>; SIZES * QUALITIES],
    any_size: [Option<UnitPrice>; QUALITIES],
}

impl Default for ImagePrices {
    fn default() -> ImagePrices {
        ImagePrices {
            sized: [None; SIZES * QUALITIES],
            any_size: [None; QUALITIES],
        }
    }
}

impl ImagePrices {
    fn slot(size: ImageSize, quality: ImageQuality) -> usize {
        size as usize * QUALITIES + quality as usize
    }

    /// These prices with one image of `size` at `quality` costing `price`.
    pub fn with(mut self, size: ImageSize, quality: ImageQuality, price: UnitPrice) -> ImagePrices {
        self.sized[ImagePrices::slot(size, quality)] = Some(price);
        self
    }

    /// These prices with one image of any size at `quality` costing `price`.
    pub fn with_any_size(mut self, quality: ImageQuality, price: UnitPrice) -> ImagePrices {
        self.any_size[quality as usize] = Some(price);
        self
    }

    /// The price of one image of `size` at `quality`, if the model has one: its price for
    /// that size, else its price for any size. Without a size only the latter applies.
    pub fn get(&self, size: Option<ImageSize>, quality: ImageQuality) -> Option<UnitPrice> {
        size.and_then(|s| self.sized[ImagePrices::slot(s, quality)])
            .or(self.any_size[quality as usize])
    }

    /// Whether the model prices any image.
    pub fn is_empty(&self) -> bool {
        self.sized.iter().chain(&self.any_size).all(Option::is_none)
    }

    /// Whether any quality is priced at `size` (or at any size).
    pub fn has_size(&self, size: Option<ImageSize>) -> bool {
        ImageQuality::ALL
            .iter()
            .any(|&q| self.get(size, q).is_some())
    }

    /// Every priced `(size, quality, price)`, sizes then qualities in wire order, the
    /// prices for any size (`None`) last.
    pub fn iter(&self) -> impl Iterator<Item = (Option<ImageSize>, ImageQuality, UnitPrice)> + '_ {
        let sized = ImageSize::ALL.iter().flat_map(move |&s| {
            ImageQuality::ALL
                .iter()
                .filter_map(move |&q| self.sized[ImagePrices::slot(s, q)].map(|p| (Some(s), q, p)))
        });
        let any = ImageQuality::ALL
            .iter()
            .filter_map(move |&q| self.any_size[q as usize].map(|p| (None, q, p)));
        sized.chain(any)
    }
}

impl Serialize for ImagePrices {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Row {
            size: &'static str,
            quality: ImageQuality,
            usd: UnitPrice,
        }
        serializer.collect_seq(self.iter().map(|(size, quality, usd)| Row {
            size: size.map_or("any", ImageSize::as_str),
            quality,
            usd,
        }))
    }
}

/// What a model bills per unit beside its tokens. A `None` (or an image not in
/// `images`) is a unit the model has no price for: usage of it is refused, naming the
/// field, rather than priced at another rate.
///
/// ```
/// use llmlab_providers::{ImageQuality, ImageSize, UnitPrice, UnitRates};
///
/// let usd = |s: &str| UnitPrice::parse(s).unwrap();
/// let dalle3 = UnitRates::default().with_image(ImageSize::S1024, ImageQuality::Hd, usd("0.08"));
/// assert_eq!(dalle3.images.get(Some(ImageSize::S1024), ImageQuality::Hd), Some(usd("0.08")));
/// assert_eq!(dalle3.web_search_call, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct UnitRates {
    /// Per generated image, by size and quality.
    #[serde(skip_serializing_if = "ImagePrices::is_empty")]
    pub images: ImagePrices,
    /// Per minute of audio transcribed or translated (billed by the second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_input_minute: Option<UnitPrice>,
    /// Per character of text turned into speech.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_character: Option<UnitPrice>,
    /// Per web search call (or, for xAI's live search, per source used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_search_call: Option<UnitPrice>,
    /// Per code-interpreter or container session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_session: Option<UnitPrice>,
}

impl UnitRates {
    /// These rates with one image of `size` at `quality` costing `price`.
    pub fn with_image(self, size: ImageSize, quality: ImageQuality, price: UnitPrice) -> UnitRates {
        UnitRates {
            images: self.images.with(size, quality, price),
            ..self
        }
    }

    /// These rates with a minute of audio input costing `price`.
    pub fn with_audio_input_minute(self, price: UnitPrice) -> UnitRates {
        UnitRates {
            audio_input_minute: Some(price),
            ..self
        }
    }

    /// These rates with a character of speech output costing `price`.
    pub fn with_output_character(self, price: UnitPrice) -> UnitRates {
        UnitRates {
            output_character: Some(price),
            ..self
        }
    }

    /// These rates with a web search call costing `price`.
    pub fn with_web_search_call(self, price: UnitPrice) -> UnitRates {
        UnitRates {
            web_search_call: Some(price),
            ..self
        }
    }

    /// These rates with a code session costing `price`.
    pub fn with_code_session(self, price: UnitPrice) -> UnitRates {
        UnitRates {
            code_session: Some(price),
            ..self
        }
    }

    /// Whether no unit is priced.
    pub fn is_empty(&self) -> bool {
        *self == UnitRates::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_prices_parse_exactly_and_print_back() {
        let picos = |s: &str| UnitPrice::parse(s).map(UnitPrice::picos);
        assert_eq!(picos("0.04"), Ok(40_000_000_000));
        assert_eq!(picos("0.000015"), Ok(15_000_000));
        assert_eq!(picos("0.000000001"), Ok(1_000));
        assert_eq!(picos("1000"), Ok(MAX_PICOS));
        for bad in ["", "-0.01", "1e-3", "0.0000000001", "1000.01", "abc", "."] {
            assert!(UnitPrice::parse(bad).is_err(), "{bad:?} accepted");
        }
        for s in ["0.04", "0.000015", "12", "0"] {
            assert_eq!(
                UnitPrice::parse(s).map(|p| p.to_string()),
                Ok(s.to_string())
            );
        }
    }

    #[test]
    fn every_size_and_quality_has_its_own_slot() {
        let mut prices = ImagePrices::default();
        let mut n = 0;
        for &s in ImageSize::ALL {
            for &q in ImageQuality::ALL {
                n += 1;
                prices = prices.with(s, q, UnitPrice(n));
            }
        }
        let read: Vec<u64> = prices.iter().map(|(_, _, p)| p.picos()).collect();
        assert_eq!(read, (1..=n).collect::<Vec<_>>());
        // A price for any size is the fallback of every size, never in place of its own.
        let any = ImagePrices::default()
            .with(ImageSize::S1024, ImageQuality::Standard, UnitPrice(2))
            .with_any_size(ImageQuality::Standard, UnitPrice(1));
        let standard = |size| any.get(size, ImageQuality::Standard);
        assert_eq!(standard(Some(ImageSize::S1024)), Some(UnitPrice(2)));
        assert_eq!(standard(Some(ImageSize::S256)), Some(UnitPrice(1)));
        assert_eq!(standard(None), Some(UnitPrice(1)));
        assert_eq!(any.get(None, ImageQuality::Hd), None);
        assert_eq!(ImageSize::parse("1792x1024"), Some(ImageSize::S1792x1024));
        assert_eq!(ImageQuality::parse("hd"), Some(ImageQuality::Hd));
        assert_eq!(ImageQuality::parse("HD"), None);
    }
}
