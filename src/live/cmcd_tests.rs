use super::*;

fn header(name: &'static str, value: &str) -> Header {
    Header::new(name, value.to_string())
}

#[test]
fn the_query_form_is_percent_decoded_and_typed() {
    let target = b"/live/a/seg-1.m4s?x=1&CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22faec5fc2%22%2Cd%3D4004%2Cmtp%3D25400%2Cnor%3D%22..%252F300kbps%252Fseg-2.m4s%22%2Cot%3Dv%2Crtp%3D15000%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Ctb%3D6000";
    let cmcd = Cmcd::of_request(target, &[]).expect("valid CMCD");
    assert_eq!(cmcd.get("bl"), Some(&Value::Integer(21300)));
    assert_eq!(cmcd.get("bs"), Some(&Value::Boolean(true)));
    assert_eq!(cmcd.get("ot"), Some(&Value::Token("v".into())));
    assert_eq!(
        cmcd.get("sid"),
        Some(&Value::String(
            "6e2fb550-c457-11e9-bb97-0800200c9a66".into()
        ))
    );
    // The `nor` value is itself URL-encoded inside the string (CTA-5004).
    assert_eq!(cmcd.next_objects(), vec!["../300kbps/seg-2.m4s"]);
    assert_eq!(
        cmcd.log_text(),
        "sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",cid=\"faec5fc2\",ot=v,br=3200,bl=21300,\
         d=4004,mtp=25400,bs,nor=\"..%2F300kbps%2Fseg-2.m4s\""
    );
}

#[test]
fn header_fields_merge_and_v2_lists_give_several_next_objects() {
    let headers = [
        header(
            "CMCD-Request",
            "bl=1200, nor=(\"seg-3.m4s\" \"seg-4.m4s\" \"seg-5.m4s\")",
        ),
        header("cmcd-session", "sid=\"s1\",v=2"),
        header("CMCD-Status", "bs=?0"),
        header("Accept", "*/*"),
    ];
    let cmcd = Cmcd::of_request(b"/a/b.m4s", &headers).unwrap();
    assert_eq!(cmcd.next_objects(), vec!["seg-3.m4s", "seg-4.m4s"]);
    assert_eq!(cmcd.get("v"), Some(&Value::Integer(2)));
    assert_eq!(cmcd.get("bs"), Some(&Value::Boolean(false)));
    assert!(cmcd
        .log_text()
        .starts_with("sid=\"s1\",bl=1200,bs=?0,v=2,nor=("));
}

#[test]
fn malformed_data_is_ignored_whole_and_absence_is_none() {
    for bad in [
        "bl=",
        "BL=1",
        "bl=1,",
        "sid=\"open",
        "d=1.23456",
        "nor=(\"a\"",
        "bl=1;;",
        "br=12345678901234567",
        "x=\u{e9}",
    ] {
        assert_eq!(parse(bad), None, "{bad}");
        assert!(Cmcd::of_request(b"/x", &[header("CMCD-Request", bad)]).is_none());
    }
    assert!(Cmcd::of_request(b"/x?CMCD=%zz", &[]).is_none());
    assert!(
        Cmcd::of_request(b"/x?cmcd=bl%3D1&y=2", &[]).is_none(),
        "the name is exact"
    );
    assert!(Cmcd::of_request(b"/x?y=2", &[header("Accept", "*/*")]).is_none());
    assert_eq!(
        parse("com.example-key=-1.5;p=1, su"),
        Some(vec![
            ("com.example-key".into(), Value::Decimal(-1.5)),
            ("su".into(), Value::Boolean(true))
        ])
    );
}
