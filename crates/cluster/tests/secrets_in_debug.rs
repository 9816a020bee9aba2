//! openraft and tracing log commands with `Debug`: no private key or secret may
//! show in it, and redacting it must not change the JSON the log stores.

use roost_certs::{IngressCa, Issuer, StoredAccount, StoredCert};
use roost_cluster::ingress::{AcmeResolver, IngressCommand};
use roost_cluster::types::Command;

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n";
const CREDENTIALS: &str = r#"{"id":"https://ca/acct/1","key_pkcs8":"SECRETACCOUNTKEY"}"#;

fn account() -> StoredAccount {
    StoredAccount {
        resolver: "le".into(),
        directory: "https://ca.example/dir".into(),
        credentials: CREDENTIALS.into(),
    }
}

fn cert() -> StoredCert {
    StoredCert {
        hosts: vec!["app.lan".into()],
        chain_pem: "CHAIN".into(),
        key_pem: KEY.into(),
        not_before: 1,
        not_after: 2,
        issuer: Issuer::Acme {
            resolver: "le".into(),
            directory: "https://ca.example/dir".into(),
        },
    }
}

/// `command`'s Debug output holds none of `secrets` and all of `shown`.
fn check(command: &Command, secrets: &[&str], shown: &[&str]) {
    for debug in [format!("{command:?}"), format!("{command:#?}")] {
        for secret in secrets {
            assert!(!debug.contains(secret), "{secret:?} shows in {debug}");
        }
        for text in shown {
            assert!(debug.contains(text), "{text:?} is missing from {debug}");
        }
    }
}

#[test]
fn debug_of_secret_carrying_commands_hides_keys_and_secrets() {
    check(
        &Command::SetCa {
            cert_pem: "CA-CERTIFICATE".into(),
            key_pem: KEY.into(),
        },
        &["SECRETKEYMATERIAL", "PRIVATE KEY"],
        &["SetCa", "CA-CERTIFICATE", "<redacted>"],
    );
    check(
        &Command::SetJoinSecrets {
            hashes: vec!["JOINHASH1".into(), "JOINHASH2".into()],
        },
        &["JOINHASH1", "JOINHASH2"],
        &["SetJoinSecrets", "hashes"],
    );
    check(
        &Command::SetCliSecrets {
            hashes: vec!["CLISECRET1".into()],
        },
        &["CLISECRET1"],
        &["SetCliSecrets", "hashes"],
    );
    check(&Command::AddJoinSecret { hash: "JOINHASH3".into() }, &["JOINHASH3"], &["AddJoinSecret", "hash"]);
    check(&Command::AddCliSecret { hash: "CLIHASH2".into() }, &["CLIHASH2"], &["AddCliSecret", "hash"]);

    let ca = IngressCa::generate().unwrap();
    let ca_key = serde_json::to_value(&ca).unwrap()["key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca_key_body = ca_key.lines().nth(1).unwrap().to_owned();
    check(
        &Command::Ingress(IngressCommand::SetCa { ca }),
        &[&ca_key_body, "PRIVATE KEY"],
        &["Ingress", "SetCa"],
    );

    let resolver = AcmeResolver {
        directory: "https://ca.example/dir".into(),
        contact: vec!["mailto:me@example.org".into()],
        root_ca_pem: None,
    };
    check(
        &Command::Ingress(IngressCommand::SetAcmeResolver {
            name: "le-staging".into(),
            resolver,
            account: Some(account()),
        }),
        &["SECRETACCOUNTKEY", "key_pkcs8"],
        &[
            "SetAcmeResolver",
            "le-staging",
            "https://ca.example/dir",
            "mailto:me@example.org",
        ],
    );
    check(
        &Command::Ingress(IngressCommand::SetAcmeAccount {
            name: "le-staging".into(),
            account: account(),
        }),
        &["SECRETACCOUNTKEY", "key_pkcs8"],
        &["SetAcmeAccount", "le-staging", "https://ca.example/dir"],
    );
    check(
        &Command::Ingress(IngressCommand::PutCert {
            key: "app.lan".into(),
            cert: cert(),
        }),
        &["SECRETKEYMATERIAL", "PRIVATE KEY"],
        &["PutCert", "app.lan", "not_after"],
    );
}

#[test]
fn debug_of_other_commands_is_unchanged() {
    assert_eq!(
        format!("{:?}", Command::RemoveStack { name: "web".into() }),
        r#"RemoveStack { name: "web" }"#
    );
    assert_eq!(
        format!("{:?}", Command::RemoveNode { id: 3 }),
        "RemoveNode { id: 3 }"
    );
    assert_eq!(
        format!(
            "{:?}",
            Command::Rollback {
                name: "web".into(),
                automatic: true
            }
        ),
        r#"Rollback { name: "web", automatic: true }"#
    );
    assert_eq!(
        format!(
            "{:?}",
            Command::SetDraining {
                node: 2,
                draining: false
            }
        ),
        "SetDraining { node: 2, draining: false }"
    );
    assert_eq!(
        format!(
            "{:?}",
            Command::Ingress(IngressCommand::RemoveCert {
                key: "a.lan".into()
            })
        ),
        r#"Ingress(RemoveCert { key: "a.lan" })"#
    );
    let stack = Command::PutStack {
        stack: roost_spec::Stack {
            name: "shop".into(),
            ..Default::default()
        },
        node: 1,
    };
    let debug = format!("{stack:?}");
    assert!(
        debug.starts_with("PutStack { stack: Stack {")
            && debug.contains("\"shop\"")
            && debug.ends_with(", node: 1 }"),
        "{debug}"
    );
}

#[test]
fn the_json_of_secret_carrying_commands_is_unchanged() {
    let cases: Vec<(Command, &str)> = vec![
        (
            Command::SetCa {
                cert_pem: "C".into(),
                key_pem: "K".into(),
            },
            r#"{"command":"set_ca","cert_pem":"C","key_pem":"K"}"#,
        ),
        (
            Command::SetJoinSecrets {
                hashes: vec!["h1".into(), "h2".into()],
            },
            r#"{"command":"set_join_secrets","hashes":["h1","h2"]}"#,
        ),
        (
            Command::SetCliSecrets {
                hashes: vec!["s1".into()],
            },
            r#"{"command":"set_cli_secrets","secrets":["s1"]}"#,
        ),
        (
            Command::Ingress(IngressCommand::SetAcmeAccount {
                name: "le".into(),
                account: StoredAccount {
                    resolver: "le".into(),
                    directory: "https://d".into(),
                    credentials: "{}".into(),
                },
            }),
            r#"{"command":"ingress","op":"set_acme_account","name":"le","account":{"resolver":"le","directory":"https://d","credentials":"{}"}}"#,
        ),
        (
            Command::Ingress(IngressCommand::PutCert {
                key: "a.lan".into(),
                cert: StoredCert {
                    hosts: vec!["a.lan".into()],
                    chain_pem: "CH".into(),
                    key_pem: "K".into(),
                    not_before: 1,
                    not_after: 2,
                    issuer: Issuer::Internal,
                },
            }),
            r#"{"command":"ingress","op":"put_cert","key":"a.lan","cert":{"hosts":["a.lan"],"chain_pem":"CH","key_pem":"K","not_before":1,"not_after":2,"issuer":"internal"}}"#,
        ),
    ];
    for (command, json) in cases {
        assert_eq!(serde_json::to_string(&command).unwrap(), json);
        assert_eq!(serde_json::from_str::<Command>(json).unwrap(), command);
    }
    let ca = IngressCa::generate().unwrap();
    let command = Command::Ingress(IngressCommand::SetCa { ca: ca.clone() });
    let expected = serde_json::json!({ "command": "ingress", "op": "set_ca", "ca": serde_json::to_value(&ca).unwrap() });
    assert_eq!(serde_json::to_value(&command).unwrap(), expected);
    assert_eq!(
        serde_json::from_value::<Command>(expected).unwrap(),
        command
    );
}
