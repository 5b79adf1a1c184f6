//! The catalog's one error type.

/// Everything that can go wrong loading a catalog or resolving a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A catalog file is not valid TOML or does not match the format.
    #[error("{file}: {message}")]
    Syntax {
        /// File name or path.
        file: String,
        /// Parser message, with line and column.
        message: String,
    },
    /// A catalog entry has an invalid value.
    #[error("{file}: model '{model}': field '{field}': {message}")]
    Invalid {
        /// File name or path.
        file: String,
        /// Model name (`-` for file-level fields).
        model: String,
        /// The offending field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A catalog file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// File path.
        file: String,
        /// OS error.
        message: String,
    },
    /// The provider is not in the catalog.
    #[error("provider '{provider}' is not in the catalog")]
    UnknownProvider {
        /// The provider as given.
        provider: String,
        /// Known provider ids.
        known: Vec<String>,
    },
    /// The model did not resolve to any priced entry of the provider.
    #[error("model '{model}' is not priced for provider '{provider}'")]
    UnknownModel {
        /// The provider id.
        provider: String,
        /// The model as given.
        model: String,
        /// The closest known names, nearest first.
        suggestions: Vec<String>,
    },
}
