//! Unit tests of the attribute-list parser and the value types (RFC 8216bis §4.2): splitting,
//! malformed lists, typed reads, and the edges of every number form.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn lists_split_on_commas_outside_quotes() {
    let a = AttributeList::parse("A=1,URI=\"x,y.m4s\",B=NO,E=\"\"").unwrap();
    assert_eq!(a.decimal_integer("A"), Ok(Some(1)));
    assert_eq!(a.quoted("URI"), Ok(Some("x,y.m4s")));
    assert_eq!(a.enumerated("B"), Ok(Some("NO")));
    assert_eq!(a.quoted("E"), Ok(Some("")));
    assert_eq!(a.quoted("MISSING"), Ok(None));
    assert!(a.has("B") && !a.has("C"));
    assert!(AttributeList::parse("").unwrap().pairs.is_empty());
    // A trailing comma is tolerated.
    assert!(AttributeList::parse("A=1,").unwrap().has("A"));
}

#[test]
fn malformed_lists() {
    for bad in [
        "URI=\"x",
        "URI=\"x\"junk",
        "lower=1",
        "=1",
        "A",
        "A=",
        "A=1,,B=2",
        "A=x\"y",
        "A B=1",
    ] {
        assert!(
            matches!(AttributeList::parse(bad), Err(AttrError::Syntax(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        AttributeList::parse("A=1,B=2,A=3"),
        Err(AttrError::Duplicate("A".into()))
    );
}

#[test]
fn the_repeated_name_reported_is_the_first_in_sorted_order_short_list_or_long() {
    // Short lists are compared pairwise, long ones sorted: both name the same attribute.
    for count in [3, 16, 17, 40] {
        let mut names: Vec<String> = (0..count).map(|i| format!("N{i:02}")).collect();
        names.extend([
            "Z".to_string(),
            "B".to_string(),
            "Z".to_string(),
            "B".to_string(),
        ]);
        let text: Vec<String> = names.iter().map(|n| format!("{n}=1")).collect();
        assert_eq!(
            AttributeList::parse(&text.join(",")),
            Err(AttrError::Duplicate("B".into())),
            "{count} names"
        );
    }
    assert!(AttributeList::parse("A=1,B=\"2\",C=3,").is_ok());
    assert_eq!(
        AttributeList::parse("A=\"x\"B=1"),
        Err(AttrError::Syntax("text after a quoted-string"))
    );
}

#[test]
fn types_are_checked_when_read() {
    let a = AttributeList::parse("N=12x,Q=\"3\",E=3,R=1920x1080,H=0x0aFf,D=YES,X=maybe").unwrap();
    let err = |name, expected| AttrError::WrongType { name, expected };
    assert_eq!(a.decimal_integer("N"), Err(err("N", "a decimal-integer")));
    assert_eq!(a.decimal_integer("Q"), Err(err("Q", "a decimal-integer")));
    assert_eq!(a.quoted("E"), Err(err("E", "a quoted-string")));
    assert_eq!(a.enumerated("Q"), Err(err("Q", "an enumerated-string")));
    assert_eq!(
        a.resolution("R"),
        Ok(Some(Resolution {
            width: 1920,
            height: 1080
        }))
    );
    assert_eq!(a.hex("H"), Ok(Some(vec![0x0a, 0xff])));
    assert_eq!(a.yes_no("D"), Ok(true));
    assert_eq!(a.yes_no("ABSENT"), Ok(false));
    assert_eq!(a.yes_no("X"), Err(err("X", "YES or NO")));
    assert_eq!(
        a.decimal_integer("N").unwrap_err().to_string(),
        "attribute N is not a decimal-integer"
    );
}

#[test]
fn decimal_integers() {
    assert_eq!(decimal_integer("0"), Some(0));
    assert_eq!(decimal_integer("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "18446744073709551616",
        "000000000000000000001",
        "-1",
        "+1",
        "1.0",
        " 1",
    ] {
        assert_eq!(decimal_integer(bad), None, "{bad:?}");
    }
}

#[test]
fn seconds_are_exact() {
    assert_eq!(decimal_seconds("6"), Some(Duration::from_secs(6)));
    assert_eq!(
        decimal_seconds("0.33334"),
        Some(Duration::from_nanos(333_340_000))
    );
    assert_eq!(
        decimal_seconds("4.00008"),
        Some(Duration::from_nanos(4_000_080_000))
    );
    assert_eq!(decimal_seconds("2."), Some(ms(2000)));
    assert_eq!(decimal_seconds(".5"), Some(ms(500)));
    assert_eq!(
        decimal_seconds("0000000000000000000000001.5"),
        Some(ms(1500))
    );
    assert_eq!(
        decimal_seconds("1.0000000019"),
        Some(Duration::from_nanos(1_000_000_001))
    );
    assert_eq!(
        decimal_seconds("18446744073709551615"),
        Some(Duration::from_secs(u64::MAX))
    );
    for bad in [
        "",
        ".",
        "-1",
        "1e3",
        "1.2.3",
        "inf",
        "NaN",
        "18446744073709551616",
        "1,5",
    ] {
        assert_eq!(decimal_seconds(bad), None, "{bad:?}");
    }
}

#[test]
fn floats_and_resolutions() {
    assert_eq!(decimal_float("29.97"), Some(29.97));
    assert_eq!(signed_float("-2.5"), Some(-2.5));
    assert_eq!(signed_float("3"), Some(3.0));
    for bad in ["", ".", "1e3", "inf", "-", "--1", "1..2", "+1"] {
        assert_eq!(signed_float(bad), None, "{bad:?}");
    }
    assert_eq!(decimal_float("-1"), None);
    for bad in ["1920", "1920x", "x1080", "1920X1080", "1920x1080x1", "-1x2"] {
        assert_eq!(resolution(bad), None, "{bad:?}");
    }
}

#[test]
fn hexadecimal_sequences() {
    assert_eq!(hex("0x00"), Some(vec![0]));
    assert_eq!(hex("0XABC"), Some(vec![0x0a, 0xbc]));
    assert_eq!(
        hex("0x9c7db8778570d05c3177c349fd9236aa"),
        Some(vec![
            0x9c, 0x7d, 0xb8, 0x77, 0x85, 0x70, 0xd0, 0x5c, 0x31, 0x77, 0xc3, 0x49, 0xfd, 0x92,
            0x36, 0xaa
        ])
    );
    for bad in ["", "0x", "12", "0xG1", "x12"] {
        assert_eq!(hex(bad), None, "{bad:?}");
    }
}
