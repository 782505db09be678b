//! A member as JSON bodies send it, shared by the native API and jwt-roles.
//! `pesel` may come as a number (the seed shows one) or a string; a number
//! is left-padded to 11 digits, since JSON drops the leading zero of
//! people born in the 2000s.

use crate::domain::MemberInput;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberBody {
    pub imie: Option<String>,
    pub nazwisko: Option<String>,
    pub wyksztalcenie: Option<String>,
    /// 11 digits, as a string or a number.
    #[schema(value_type = Option<String>)]
    pub pesel: Option<Value>,
    /// One of the 16 voivodeships, any case.
    pub wojewodztwo: Option<String>,
    pub miejscowosc: Option<String>,
    pub ulica: Option<String>,
    pub nrdomulokalu: Option<String>,
    /// `NN-NNN`
    pub kodpocztowy: Option<String>,
    pub email: Option<String>,
    /// Nine digits, optionally after +48; spaces and dashes allowed.
    pub tel: Option<String>,
}

/// A JSON number that is a whole number, however it is written: `42`,
/// or a double as mongoexport prints one (`7.7031857354E+10`, `42.0`).
pub fn whole_number(n: &serde_json::Number) -> Option<u64> {
    /// Past 2^53 a double no longer holds every whole number.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    n.as_u64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && (0.0..EXACT).contains(&f)).then_some(f as u64)
    })
}

/// A PESEL as text: numbers left-padded to 11 digits (a number loses the
/// leading zero of a PESEL born in the 2000s); other JSON types become
/// text that fails validation with the field named.
fn pesel_text(value: Value) -> String {
    match value {
        Value::Number(n) => match whole_number(&n) {
            Some(n) => format!("{n:011}"),
            None => n.to_string(),
        },
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl From<MemberBody> for MemberInput {
    fn from(body: MemberBody) -> Self {
        MemberInput {
            imie: body.imie,
            nazwisko: body.nazwisko,
            wyksztalcenie: body.wyksztalcenie,
            pesel: body.pesel.map(pesel_text),
            wojewodztwo: body.wojewodztwo,
            miejscowosc: body.miejscowosc,
            ulica: body.ulica,
            nrdomulokalu: body.nrdomulokalu,
            kodpocztowy: body.kodpocztowy,
            email: body.email,
            tel: body.tel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_leading_zero() {
        assert_eq!(pesel_text(serde_json::json!(2270803624u64)), "02270803624");
        assert_eq!(pesel_text(serde_json::json!("02270803624")), "02270803624");
        assert_eq!(pesel_text(serde_json::json!(1.5)), "1.5");
    }
}
