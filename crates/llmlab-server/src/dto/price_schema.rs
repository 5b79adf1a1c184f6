//! The OpenAPI schemas of the prices a request sets: a decimal string or a JSON number.

/// A rate in a request: a decimal string or a number.
pub(super) fn rate_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Schema::OneOf(rate_one_of())
}

fn rate_one_of() -> utoipa::openapi::schema::OneOf {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^ *([0-9]{1,7}(\.[0-9]{0,6})?|\.[0-9]{1,6}) *$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .maximum(Some(9_999_999.0))
                .multiple_of(Some(0.000_001)),
        )
        .description(Some("USD per million tokens: a decimal string or a number"))
        .build()
}

/// [`rate_schema`] or null.
pub(super) fn optional_rate_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut schema = rate_one_of();
    schema
        .items
        .push(ObjectBuilder::new().schema_type(Type::Null).into());
    utoipa::openapi::schema::Schema::OneOf(schema)
}

/// A per-unit price in a request (USD for one image, minute, character, search or
/// session): a decimal string or a number, at most 9 decimals and $1,000, or null.
pub(super) fn optional_unit_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^ *([0-9]{1,3}(\.[0-9]{0,9})?|\.[0-9]{1,9}) *$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .maximum(Some(999.0))
                .multiple_of(Some(0.001)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("USD for one unit: a decimal string or a number"))
        .build();
    utoipa::openapi::schema::Schema::OneOf(one_of)
}
