//! A member as the APIs' JSON shows it, documented for the OpenAPI
//! document from the domain's one list of fields: the body a client sends
//! (`MemberJson`: `pesel` as a number or a string) and the data it reads
//! back (`MemberData`).

use crate::domain::{MemberData, MemberJson};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A member as JSON bodies send it (the native API, jwt-roles).
pub type MemberBody = MemberJson;

/// An object with every member field as text; `pesel` may be a number too.
fn fields_schema(required: bool) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new();
    for name in MemberData::NAMES {
        let field = if name == "pesel" {
            ObjectBuilder::new()
                .schema_type(
                    [Type::String, Type::Number]
                        .into_iter()
                        .collect::<utoipa::openapi::schema::SchemaType>(),
                )
                .description(Some("11 digits, as a string or a number"))
        } else {
            ObjectBuilder::new().schema_type(Type::String)
        };
        object = object.property(name, field);
        if required {
            object = object.required(name);
        }
    }
    object.into()
}

impl PartialSchema for MemberJson {
    fn schema() -> RefOr<Schema> {
        fields_schema(false)
    }
}

impl ToSchema for MemberJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MemberBody")
    }
}

impl PartialSchema for MemberData {
    fn schema() -> RefOr<Schema> {
        fields_schema(true)
    }
}

impl ToSchema for MemberData {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MemberData")
    }
}
