//! Which time zone a contact lives in: their own `timezone` when set, else a guess from the
//! phone number (the area code in North America, the country elsewhere).
use crate::Phone;
use chrono_tz::Tz;

mod nanp;

/// Unknown North American area codes (including the sandbox's fictional 555) are read as
/// Eastern time: the most populous zone, and the earliest to open, so a wrong guess never
/// rings someone before their own 08:00 in the west.
pub const NANP_FALLBACK: Tz = chrono_tz::America::New_York;

/// Numbers from countries not in the table below.
pub const FALLBACK: Tz = Tz::UTC;

/// Country calling code -> the zone of its capital or most populous region. Codes are
/// prefix-free, so the longest matching entry is the country (`7` Russia, `77` Kazakhstan).
const COUNTRIES: &[(&str, Tz)] = &[
    ("7", Tz::Europe__Moscow),
    ("76", Tz::Asia__Almaty),
    ("77", Tz::Asia__Almaty),
    ("20", Tz::Africa__Cairo),
    ("27", Tz::Africa__Johannesburg),
    ("30", Tz::Europe__Athens),
    ("31", Tz::Europe__Amsterdam),
    ("32", Tz::Europe__Brussels),
    ("33", Tz::Europe__Paris),
    ("34", Tz::Europe__Madrid),
    ("36", Tz::Europe__Budapest),
    ("39", Tz::Europe__Rome),
    ("40", Tz::Europe__Bucharest),
    ("41", Tz::Europe__Zurich),
    ("43", Tz::Europe__Vienna),
    ("44", Tz::Europe__London),
    ("45", Tz::Europe__Copenhagen),
    ("46", Tz::Europe__Stockholm),
    ("47", Tz::Europe__Oslo),
    ("48", Tz::Europe__Warsaw),
    ("49", Tz::Europe__Berlin),
    ("51", Tz::America__Lima),
    ("52", Tz::America__Mexico_City),
    ("54", Tz::America__Argentina__Buenos_Aires),
    ("55", Tz::America__Sao_Paulo),
    ("56", Tz::America__Santiago),
    ("57", Tz::America__Bogota),
    ("60", Tz::Asia__Kuala_Lumpur),
    ("61", Tz::Australia__Sydney),
    ("62", Tz::Asia__Jakarta),
    ("63", Tz::Asia__Manila),
    ("64", Tz::Pacific__Auckland),
    ("65", Tz::Asia__Singapore),
    ("66", Tz::Asia__Bangkok),
    ("81", Tz::Asia__Tokyo),
    ("82", Tz::Asia__Seoul),
    ("84", Tz::Asia__Ho_Chi_Minh),
    ("86", Tz::Asia__Shanghai),
    ("90", Tz::Europe__Istanbul),
    ("91", Tz::Asia__Kolkata),
    ("92", Tz::Asia__Karachi),
    ("212", Tz::Africa__Casablanca),
    ("234", Tz::Africa__Lagos),
    ("254", Tz::Africa__Nairobi),
    ("351", Tz::Europe__Lisbon),
    ("352", Tz::Europe__Luxembourg),
    ("353", Tz::Europe__Dublin),
    ("354", Tz::Atlantic__Reykjavik),
    ("356", Tz::Europe__Malta),
    ("357", Tz::Asia__Nicosia),
    ("358", Tz::Europe__Helsinki),
    ("359", Tz::Europe__Sofia),
    ("370", Tz::Europe__Vilnius),
    ("371", Tz::Europe__Riga),
    ("372", Tz::Europe__Tallinn),
    ("380", Tz::Europe__Kyiv),
    ("385", Tz::Europe__Zagreb),
    ("386", Tz::Europe__Ljubljana),
    ("420", Tz::Europe__Prague),
    ("421", Tz::Europe__Bratislava),
    ("852", Tz::Asia__Hong_Kong),
    ("853", Tz::Asia__Macau),
    ("886", Tz::Asia__Taipei),
    ("966", Tz::Asia__Riyadh),
    ("971", Tz::Asia__Dubai),
    ("972", Tz::Asia__Jerusalem),
    ("974", Tz::Asia__Qatar),
];

#[cfg(test)]
/// The zone of a North American area code, if the table knows it.
pub(crate) fn nanp_zone(area_code: u16) -> Option<Tz> {
    nanp::zone(area_code)
}

/// The zone a phone number most likely rings in.
pub fn zone_for_phone(phone: &Phone) -> Tz {
    let digits = phone.as_str().trim_start_matches('+');
    if let Some(national) = digits.strip_prefix('1') {
        // E.164 guarantees ten national digits after +1; the first three are the area code.
        return national
            .get(..3)
            .and_then(|code| code.parse().ok())
            .and_then(nanp::zone)
            .unwrap_or(NANP_FALLBACK);
    }
    COUNTRIES
        .iter()
        .filter(|(code, _)| digits.starts_with(code))
        .max_by_key(|(code, _)| code.len())
        .map_or(FALLBACK, |(_, zone)| *zone)
}

/// The zone to use for a contact: their explicit `timezone` when it names a real IANA
/// zone, else the phone number's zone. An invalid name is ignored rather than trusted.
pub fn contact_zone(timezone: Option<&str>, phone: &Phone) -> Tz {
    timezone
        .and_then(|name| name.trim().parse::<Tz>().ok())
        .unwrap_or_else(|| zone_for_phone(phone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America;

    fn zone(e164: &str) -> Tz {
        zone_for_phone(&Phone::from_e164(e164).unwrap())
    }

    #[test]
    fn us_area_codes_map_to_their_state_zones() {
        assert_eq!(zone("+12125550123"), America::New_York);
        assert_eq!(zone("+12135550123"), America::Los_Angeles);
        assert_eq!(zone("+13125550123"), America::Chicago);
        assert_eq!(zone("+13035550123"), America::Denver);
        assert_eq!(zone("+16025550123"), America::Phoenix, "Arizona: no DST");
        assert_eq!(zone("+18085550123"), Tz::Pacific__Honolulu);
        assert_eq!(zone("+19075550123"), America::Anchorage);
        assert_eq!(zone("+19155550123"), America::Denver, "El Paso");
        assert_eq!(zone("+18505550123"), America::Chicago, "Florida panhandle");
        assert_eq!(zone("+17875550123"), America::Puerto_Rico);
    }

    #[test]
    fn canadian_area_codes_map_to_their_province_zones() {
        assert_eq!(zone("+14165550123"), America::Toronto);
        assert_eq!(zone("+16045550123"), America::Vancouver);
        assert_eq!(zone("+14035550123"), America::Edmonton);
        assert_eq!(zone("+13065550123"), America::Regina);
        assert_eq!(zone("+17095550123"), America::St_Johns);
    }

    #[test]
    fn unknown_north_american_codes_fall_back_to_eastern() {
        assert_eq!(zone("+15550100001"), NANP_FALLBACK, "sandbox 555");
        assert_eq!(zone("+18005550123"), NANP_FALLBACK, "toll-free");
    }

    #[test]
    fn other_countries_use_their_default_zone() {
        assert_eq!(zone("+442079460958"), Tz::Europe__London);
        assert_eq!(zone("+353123456789"), Tz::Europe__Dublin);
        assert_eq!(zone("+4930901820"), Tz::Europe__Berlin);
        assert_eq!(zone("+61212345678"), Tz::Australia__Sydney);
        assert_eq!(zone("+819012345678"), Tz::Asia__Tokyo);
        assert_eq!(zone("+5511912345678"), Tz::America__Sao_Paulo);
        assert_eq!(zone("+79161234567"), Tz::Europe__Moscow);
        assert_eq!(
            zone("+77011234567"),
            Tz::Asia__Almaty,
            "longest prefix wins"
        );
        assert_eq!(
            zone("+2991234567"),
            FALLBACK,
            "Greenland is not in the table"
        );
    }

    #[test]
    fn an_explicit_valid_zone_wins_over_the_number() {
        let ny = Phone::from_e164("+12125550123").unwrap();
        assert_eq!(contact_zone(Some("Europe/Paris"), &ny), Tz::Europe__Paris);
        assert_eq!(contact_zone(Some("Mars/Olympus"), &ny), America::New_York);
        assert_eq!(contact_zone(None, &ny), America::New_York);
    }
}
