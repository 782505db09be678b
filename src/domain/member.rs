//! The NGO member register (from `seeds/002_…`): a member's personal data
//! and the rules each field must meet. Holds personal data, so only
//! moderators and admins may read or write it (enforced in `app`).

use super::{Email, Invalid};
use time::{Date, Month};

/// The 16 voivodeships, in their canonical spelling.
pub const VOIVODESHIPS: [&str; 16] = [
    "Dolnośląskie",
    "Kujawsko-pomorskie",
    "Lubelskie",
    "Lubuskie",
    "Łódzkie",
    "Małopolskie",
    "Mazowieckie",
    "Opolskie",
    "Podkarpackie",
    "Podlaskie",
    "Pomorskie",
    "Śląskie",
    "Świętokrzyskie",
    "Warmińsko-mazurskie",
    "Wielkopolskie",
    "Zachodniopomorskie",
];

const LONGEST_TEXT: usize = 200;

/// Declares the register's fields once: the struct, their names in the
/// seed's order, and the ways to walk them, so the API bodies, the SQL
/// columns, the export and the change history all follow this one list.
macro_rules! member_fields {
    ($($field:ident),+ $(,)?) => {
        /// A member's eleven fields, each a `T`: [`MemberData`] as validated,
        /// [`MemberInput`] as typed, the APIs' JSON bodies before that.
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct MemberFields<T> {
            $(pub $field: T,)+
        }

        impl<T> MemberFields<T> {
            /// The fields' names, in the seed's order.
            pub const NAMES: [&'static str; 11] = [$(stringify!($field)),+];

            /// Each field with its name, in the seed's order.
            pub fn fields(&self) -> [(&'static str, &T); 11] {
                [$((stringify!($field), &self.$field)),+]
            }

            /// Each field made another thing, told its name.
            pub fn map<U>(self, mut f: impl FnMut(&'static str, T) -> U) -> MemberFields<U> {
                MemberFields { $($field: f(stringify!($field), self.$field),)+ }
            }

            /// `map`, stopping at the first failure.
            pub fn try_map<U, E>(
                self,
                mut f: impl FnMut(&'static str, T) -> Result<U, E>,
            ) -> Result<MemberFields<U>, E> {
                Ok(MemberFields { $($field: f(stringify!($field), self.$field)?,)+ })
            }

            /// One from a value per field name (a database row's columns).
            pub fn try_from_fn<E>(mut f: impl FnMut(&'static str) -> Result<T, E>) -> Result<Self, E> {
                Ok(MemberFields { $($field: f(stringify!($field))?,)+ })
            }
        }
    };
}

member_fields!(
    imie,
    nazwisko,
    wyksztalcenie,
    pesel,
    wojewodztwo,
    miejscowosc,
    ulica,
    nrdomulokalu,
    kodpocztowy,
    email,
    tel,
);

/// A member's data as validated; `pesel` is always 11 digits.
pub type MemberData = MemberFields<String>;

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: super::MemberId,
    pub data: MemberData,
    /// Bumped by every update (the seed's `__v`).
    pub version: i64,
}

/// The fields as they arrive, before validation.
pub type MemberInput = MemberFields<Option<String>>;

/// The fields as a JSON body or an imported row sends them: text, or a
/// number where a seed or `mongoexport` writes one (`pesel`, `tel`).
pub type MemberJson = MemberFields<Option<serde_json::Value>>;

impl From<MemberJson> for MemberInput {
    fn from(json: MemberJson) -> Self {
        json.map(|name, value| value.map(|value| json_text(name, value)))
    }
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

/// A field's JSON value as text: a whole number written out (a PESEL
/// left-padded to 11 digits: a number loses the leading zero of people
/// born in the 2000s); other JSON types become text that fails validation
/// with the field named.
fn json_text(name: &str, value: serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Number(n) => match whole_number(&n) {
            Some(n) if name == "pesel" => format!("{n:011}"),
            Some(n) => n.to_string(),
            None => n.to_string(),
        },
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn text(value: Option<String>, field: &'static str) -> Result<String, Invalid> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(Invalid::Field {
            field,
            reason: "is required",
        });
    }
    if value.chars().count() > LONGEST_TEXT {
        return Err(Invalid::Field {
            field,
            reason: "is longer than 200 characters",
        });
    }
    Ok(value)
}

impl MemberInput {
    /// Validates every field; the first failure names its field.
    pub fn validate(self) -> Result<MemberData, Invalid> {
        let data = self.try_map(|name, value| text(value, name))?;
        Ok(MemberData {
            pesel: parse_pesel(&data.pesel)?,
            wojewodztwo: parse_voivodeship(&data.wojewodztwo)?,
            kodpocztowy: parse_postal_code(&data.kodpocztowy)?,
            email: Email::parse(&data.email)
                .map_err(|_| Invalid::Field {
                    field: "email",
                    reason: "is not a valid address",
                })?
                .as_str()
                .to_owned(),
            tel: parse_phone(&data.tel)?,
            ..data
        })
    }
}

/// 11 digits, a valid checksum and a real date of birth (months +80 for
/// the 1800s, +0 for the 1900s, +20, +40, +60 for the 2000s, 2100s, 2200s).
pub fn parse_pesel(raw: &str) -> Result<String, Invalid> {
    const FIELD: &str = "pesel";
    let digits: Vec<u32> = raw.chars().filter_map(|c| c.to_digit(10)).collect();
    let Ok(digits) = <[u32; 11]>::try_from(digits) else {
        return Err(Invalid::Field {
            field: FIELD,
            reason: "must be 11 digits",
        });
    };
    if raw.chars().count() != 11 {
        return Err(Invalid::Field {
            field: FIELD,
            reason: "must be 11 digits",
        });
    }
    let [y1, y2, m1, m2, d1, d2, .., check] = digits;
    let weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    if (10 - sum % 10) % 10 != check {
        return Err(Invalid::Field {
            field: FIELD,
            reason: "has a wrong check digit",
        });
    }
    let year = y1 * 10 + y2;
    let coded_month = m1 * 10 + m2;
    let day = d1 * 10 + d2;
    let (century, month) = match coded_month {
        81..=92 => (1800, coded_month - 80),
        1..=12 => (1900, coded_month),
        21..=32 => (2000, coded_month - 20),
        41..=52 => (2100, coded_month - 40),
        61..=72 => (2200, coded_month - 60),
        _ => {
            return Err(Invalid::Field {
                field: FIELD,
                reason: "holds an impossible date of birth",
            });
        }
    };
    let valid_date = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .zip(u8::try_from(day).ok())
        .and_then(|(m, d)| Date::from_calendar_date(i32::try_from(century + year).ok()?, m, d).ok());
    if valid_date.is_none() {
        return Err(Invalid::Field {
            field: FIELD,
            reason: "holds an impossible date of birth",
        });
    }
    Ok(raw.to_owned())
}

/// Lower-case without Polish diacritics, for lenient matching.
fn folded(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        })
        .collect()
}

/// One of the 16 voivodeships in any case (diacritics optional), returned
/// in its canonical spelling.
pub fn parse_voivodeship(raw: &str) -> Result<String, Invalid> {
    let wanted = folded(raw.trim());
    VOIVODESHIPS
        .iter()
        .find(|v| folded(v) == wanted)
        .map(|v| (*v).to_owned())
        .ok_or(Invalid::Field {
            field: "wojewodztwo",
            reason: "is not one of the 16 voivodeships",
        })
}

/// `NN-NNN`.
pub fn parse_postal_code(raw: &str) -> Result<String, Invalid> {
    let bytes = raw.as_bytes();
    let valid = bytes.len() == 6
        && bytes.get(2) == Some(&b'-')
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 2 || b.is_ascii_digit());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::Field {
            field: "kodpocztowy",
            reason: "must be NN-NNN",
        })
    }
}

/// Nine digits, optionally after `+48`, with spaces or dashes anywhere.
pub fn parse_phone(raw: &str) -> Result<String, Invalid> {
    let invalid = Invalid::Field {
        field: "tel",
        reason: "must be 9 digits, optionally after +48",
    };
    let rest = raw.trim().strip_prefix("+48").unwrap_or(raw.trim());
    if !rest.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return Err(invalid);
    }
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    if digits == 9 {
        Ok(raw.trim().to_owned())
    } else {
        Err(invalid)
    }
}

/// One recorded change to a member: who, when, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub id: String,
    pub member_id: super::MemberId,
    pub actor_id: super::AccountId,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The fields whose values changed (all of them on create and delete).
    pub fields: Vec<String>,
    pub at: time::OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_leading_zero() {
        let pesel = |value| json_text("pesel", value);
        assert_eq!(pesel(serde_json::json!(2270803624u64)), "02270803624");
        assert_eq!(pesel(serde_json::json!(2.221199844E+09)), "02221199844");
        assert_eq!(pesel(serde_json::json!("02270803624")), "02270803624");
        assert_eq!(pesel(serde_json::json!(1.5)), "1.5");
        assert_eq!(json_text("tel", serde_json::json!(600100200)), "600100200");
    }

    #[test]
    fn pesel_checks_digits_checksum_and_date() {
        assert!(parse_pesel("44051401458").is_ok(), "1944-05-14");
        assert!(parse_pesel("02270803624").is_ok(), "2002-07-08, leading zero");
        assert!(parse_pesel("44051401459").is_err(), "wrong check digit");
        assert!(parse_pesel("4405140145").is_err(), "ten digits");
        assert!(parse_pesel("4405140145a").is_err());
        assert!(
            parse_pesel("77543187764").is_err(),
            "the seed's example: month 54 does not exist"
        );
        // 2001-02-29 does not exist (checksum made valid).
        assert!(parse_pesel("01222912346").is_err());
    }

    #[test]
    fn voivodeships_are_canonical() {
        assert_eq!(parse_voivodeship("MAZOWIECKIE").unwrap(), "Mazowieckie");
        assert_eq!(parse_voivodeship("lodzkie").unwrap(), "Łódzkie");
        assert_eq!(
            parse_voivodeship("kujawsko-pomorskie").unwrap(),
            "Kujawsko-pomorskie"
        );
        assert!(parse_voivodeship("Bawaria").is_err());
    }

    #[test]
    fn postal_codes_and_phones() {
        assert!(parse_postal_code("72-978").is_ok());
        for bad in ["72978", "7-2978", "72-97a", "72-9788"] {
            assert!(parse_postal_code(bad).is_err(), "{bad}");
        }
        for good in ["768-895-832", "+48 768 895 832", "768895832"] {
            assert!(parse_phone(good).is_ok(), "{good}");
        }
        for bad in ["12345", "+49 768 895 832", "768-895-83x"] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }
}
