use super::*;

fn normalized(raw: &str) -> String {
    EmailAddress::parse(raw)
        .unwrap_or_else(|error| panic!("{raw:?}: {error}"))
        .normalized()
}

#[test]
fn accepts_and_trims_a_plain_address() {
    let email = EmailAddress::parse("  Ada.Lovelace+x@Example.io ").unwrap();
    assert_eq!(email.as_str(), "Ada.Lovelace+x@Example.io");
    assert_eq!(email.normalized(), "ada.lovelace+x@example.io");
}

#[test]
fn different_case_is_the_same_account() {
    let a = EmailAddress::parse("A@X.io").unwrap();
    let b = EmailAddress::parse("a@x.io").unwrap();
    assert_eq!(a.normalized(), b.normalized());
    assert_eq!(EmailAddress::normalize(" A@X.IO "), a.normalized());
}

#[test]
fn an_ascii_address_normalises_as_in_v1() {
    // v1 stored `trim().to_lowercase()`: those rows must still match.
    for raw in [
        " Ada.Lovelace@Example.COM ",
        "o'brien+tag@sub.example.co.uk",
        "x!#$%&'*+-/=?^_`{|}~@a-b.io",
        "r3---sn-abc.example@c--d.example",
    ] {
        assert_eq!(normalized(raw), raw.trim().to_lowercase(), "{raw:?}");
    }
}

#[test]
fn the_kelvin_sign_is_the_letter_k() {
    // U+212A KELVIN SIGN is canonically equivalent to K: NFC maps it.
    let kelvin = EmailAddress::parse("\u{212A}ate@x.io").unwrap();
    assert_eq!(kelvin.as_str(), "Kate@x.io");
    assert_eq!(kelvin.normalized(), normalized("kate@x.io"));
    assert_eq!(EmailAddress::normalize("\u{212A}ATE@X.IO"), "kate@x.io");
}

#[test]
fn local_parts_are_nfc_so_composed_and_decomposed_are_one_account() {
    let composed = EmailAddress::parse("jos\u{e9}@example.com").unwrap();
    let decomposed = EmailAddress::parse("jose\u{301}@example.com").unwrap();
    assert_eq!(decomposed.as_str(), "jos\u{e9}@example.com");
    assert_eq!(composed.normalized(), decomposed.normalized());
    assert_eq!(normalized("JOS\u{c9}@example.com"), composed.normalized());
}

#[test]
fn accepts_internationalised_local_parts() {
    for raw in [
        "用户@例子.广告",
        "अजय@डाटा.भारत",
        "квіточка@пошта.укр",
        "θσερ@εχαμπλε.ψομ",
        "Dörte@Sörensen.example.com",
        "مستخدم@example.com",
    ] {
        assert!(EmailAddress::parse(raw).is_ok(), "{raw:?}");
    }
}

#[test]
fn an_idn_domain_has_one_normal_form_whatever_the_spelling() {
    let unicode = EmailAddress::parse("Ada@München.de").unwrap();
    let punycode = EmailAddress::parse("ada@XN--MNCHEN-3YA.de").unwrap();
    assert_eq!(unicode.normalized(), "ada@münchen.de");
    assert_eq!(punycode.normalized(), "ada@münchen.de");
    // Delivery uses the readable UTS 46 form, whatever was typed.
    assert_eq!(unicode.as_str(), "Ada@münchen.de");
    assert_eq!(punycode.as_str(), "ada@münchen.de");
    // Full-width letters and an ideographic full stop map too.
    let wide = EmailAddress::parse("ada@ｍünchen。de").unwrap();
    assert_eq!(wide.as_str(), "ada@münchen.de");
    assert_eq!(wide.normalized(), "ada@münchen.de");
}

#[test]
fn normalize_is_idempotent_and_agrees_with_parse() {
    for raw in [
        "\u{212A}ate@x.io",
        "İstanbul@example.com",
        "ΣΟΦΙΑ@example.com",
        "Straße@Example.DE",
        "ada@xn--mnchen-3ya.de",
        "Ada@München.de",
        "not an address",
    ] {
        let once = EmailAddress::normalize(raw);
        assert_eq!(EmailAddress::normalize(&once), once, "{raw:?}");
        if let Ok(email) = EmailAddress::parse(raw) {
            assert_eq!(email.normalized(), once, "{raw:?}");
        }
    }
}

#[test]
fn rejects_malformed_addresses() {
    for raw in [
        "",
        "plainaddress",
        "@x.io",
        "a@",
        "a@@x.io",
        "a b@x.io",
        "Ada <ada@x.io>",
        "a@[127.0.0.1]",
        "a@[IPv6:::1]",
        "a@127.0.0.1",
        "a@localhost",
        "a@x.io.",
        "a@.x.io",
        "a@x..io",
        "a@-x.io",
        "a@x-.io",
        "a@x_y.io",
        "a@x.io:25",
        "(comment)a@x.io",
        "a@x.io (comment)",
    ] {
        assert_eq!(
            EmailAddress::parse(raw),
            Err(InvalidEmail::Syntax),
            "{raw:?}"
        );
    }
}

#[test]
fn rejects_quoted_local_parts() {
    for raw in [
        r#""a,b <x@evil>"@example.com"#,
        r#""ada"@example.com"#,
        r#""a b"@example.com"#,
        r#"a\@b@example.com"#,
    ] {
        assert_eq!(
            EmailAddress::parse(raw),
            Err(InvalidEmail::Syntax),
            "{raw:?}"
        );
    }
}

#[test]
fn rejects_leading_trailing_and_double_dots() {
    for raw in [".ada@x.io", "ada.@x.io", "a..da@x.io", ".@x.io"] {
        assert_eq!(
            EmailAddress::parse(raw),
            Err(InvalidEmail::Syntax),
            "{raw:?}"
        );
    }
    assert!(EmailAddress::parse("a.d.a@x.io").is_ok());
}

#[test]
fn rejects_controls_bidi_and_zero_width_characters_anywhere() {
    let hidden = [
        '\u{0}', '\u{1}', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{202A}', '\u{202E}',
        '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
        '\u{200D}', '\u{2060}', '\u{FEFF}',
    ];
    for c in hidden {
        for raw in [
            format!("a{c}da@example.com"),
            format!("ada@exa{c}mple.com"),
            format!("ada@example.com{c}x"),
        ] {
            assert_eq!(
                EmailAddress::parse(&raw),
                Err(InvalidEmail::Syntax),
                "{raw:?}"
            );
        }
    }
}

#[test]
fn rejects_symbols_and_spaces_in_the_local_part() {
    for raw in [
        "a\u{a0}b@x.io",
        "a\u{3000}b@x.io",
        "✉@x.io",
        "a😀@x.io",
        "a,b@x.io",
        "a;b@x.io",
        "a\"b@x.io",
    ] {
        assert_eq!(
            EmailAddress::parse(raw),
            Err(InvalidEmail::Syntax),
            "{raw:?}"
        );
    }
}

#[test]
fn the_local_part_is_at_most_64_octets() {
    assert!(EmailAddress::parse(&format!("{}@x.io", "a".repeat(64))).is_ok());
    assert_eq!(
        EmailAddress::parse(&format!("{}@x.io", "a".repeat(65))),
        Err(InvalidEmail::Syntax)
    );
    // Octets, not characters: 33 two-byte letters are 66 octets.
    assert_eq!(
        EmailAddress::parse(&format!("{}@x.io", "é".repeat(33))),
        Err(InvalidEmail::Syntax)
    );
}

#[test]
fn domain_labels_are_at_most_63_octets() {
    assert!(EmailAddress::parse(&format!("a@{}.io", "b".repeat(63))).is_ok());
    assert_eq!(
        EmailAddress::parse(&format!("a@{}.io", "b".repeat(64))),
        Err(InvalidEmail::Syntax)
    );
}

#[test]
fn rejects_addresses_over_254_characters() {
    let local = "a".repeat(64);
    let label = "b".repeat(60);
    let long = format!("{local}@{label}.{label}.{label}.{label}.io");
    assert!(long.len() > 254);
    assert_eq!(EmailAddress::parse(&long), Err(InvalidEmail::TooLong));
}

#[test]
fn rejects_an_address_whose_smtp_form_is_over_254_octets() {
    // Three labels of 18 spread-out CJK ideographs: 62 octets each in
    // punycode, a valid 191-octet domain, but 256 octets with the local part.
    let label: String = (0..18u32)
        .filter_map(|i| char::from_u32(0x4e00 + (i * 7919) % 20000))
        .collect();
    let domain = format!("{label}.{label}.{label}.de");
    let ascii = Domain::process(&domain).expect("a valid domain").ascii;
    assert_eq!(ascii.len(), 191, "{ascii}");
    let raw = format!("{}@{domain}", "a".repeat(64));
    assert!(raw.chars().count() <= 254);
    assert_eq!(EmailAddress::parse(&raw), Err(InvalidEmail::Syntax));
    // A 62-octet local part fits exactly: 62 + 1 + 191 = 254.
    assert!(EmailAddress::parse(&format!("{}@{domain}", "a".repeat(62))).is_ok());
}

#[test]
fn messages_are_the_contract_s() {
    assert_eq!(
        InvalidEmail::Syntax.to_string(),
        "Not a valid email address."
    );
    assert_eq!(
        InvalidEmail::TooLong.to_string(),
        "Email must be at most 254 characters long."
    );
}

#[test]
fn storage_keeps_addresses_written_under_older_rules() {
    let stored = "\"a,b\"@example.com";
    assert!(EmailAddress::parse(stored).is_err());
    let email = EmailAddress::from_storage(stored).unwrap();
    assert_eq!(email.as_str(), stored);
    assert_eq!(email.normalized(), stored);
    // A valid address reads back exactly as parse makes it.
    assert_eq!(
        EmailAddress::from_storage("Ada@Example.io").unwrap(),
        EmailAddress::parse("Ada@Example.io").unwrap()
    );
    for broken in ["no-at-sign", "@x.io", "a@", "a\u{0}@x.io"] {
        assert_eq!(
            EmailAddress::from_storage(broken),
            Err(InvalidEmail::Syntax),
            "{broken:?}"
        );
    }
}
