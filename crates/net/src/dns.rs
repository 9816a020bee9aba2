//! The agent's DNS answers, as a pure function of a query and the steering.
//!
//! Docker's embedded DNS answers names of containers on the same node and network
//! itself and forwards every other query to the container's `dns:` servers, which
//! [`crate::wire`] sets to [`crate::DNS_ADDR`]: the agent. So a query arriving here is
//! for a service with no replica on this node, or for the outside world. The first gets
//! the service's address; the second is relayed to the host's own resolvers.

use crate::steer::Steering;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::Ipv4Addr;

/// Seconds a resolver may cache an answer. Service addresses do not change while
/// a service exists, so this only bounds how long a removed service's name lingers.
pub const TTL: u32 = 10;

/// What to do with one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send these bytes back.
    Answer(Vec<u8>),
    /// Not a cluster name: relay the query to the host's resolvers as it is.
    Forward,
    /// Not a DNS message: say nothing.
    Drop,
}

/// The reply to `query` (wire format) from the container at `src`.
pub fn answer(query: &[u8], src: Ipv4Addr, steering: &Steering) -> Reply {
    let Ok(msg) = Message::from_vec(query) else {
        return Reply::Drop;
    };
    if msg.message_type() != MessageType::Query {
        return Reply::Drop;
    }
    if !steering.knows(src) {
        // Only containers of steered networks may ask: the port is reachable from the
        // LAN, and an open resolver there would be abused.
        return Reply::Answer(error(&msg, ResponseCode::Refused));
    }
    let [q] = msg.queries() else {
        return Reply::Answer(error(&msg, ResponseCode::FormErr));
    };
    let name = q.name().to_ascii();
    let Some(ip) = steering.resolve(src, &name) else {
        return Reply::Forward;
    };
    let mut resp = response(&msg, ResponseCode::NoError);
    resp.set_authoritative(true);
    // Other record types of a service name exist but are empty (NODATA), so a
    // resolver asking AAAA first does not give up on the name.
    if q.query_type() == RecordType::A || q.query_type() == RecordType::ANY {
        resp.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
    }
    to_vec(resp)
}

/// SERVFAIL for `query`, when relaying it failed (no resolver, no answer in time).
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    Some(error(&msg, ResponseCode::ServFail))
}

fn response(msg: &Message, code: ResponseCode) -> Message {
    let mut resp = Message::new();
    resp.set_id(msg.id())
        .set_message_type(MessageType::Response)
        .set_op_code(msg.op_code())
        .set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(code);
    resp.add_queries(msg.queries().iter().cloned());
    resp
}

fn error(msg: &Message, code: ResponseCode) -> Vec<u8> {
    match to_vec(response(msg, code)) {
        Reply::Answer(b) => b,
        _ => Vec::new(),
    }
}

fn to_vec(msg: Message) -> Reply {
    msg.to_vec().map(Reply::Answer).unwrap_or(Reply::Drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steer::SteeredNetwork;
    use crate::Subnet;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn steering() -> Steering {
        Steering {
            networks: vec![SteeredNetwork {
                interface: "br-x".into(),
                subnet: Subnet::parse("172.20.0.0/16").unwrap(),
                stack: "app".into(),
                network: "default".into(),
                names: [("db".to_string(), Ipv4Addr::new(10, 213, 1, 1))].into(),
                services: [(Ipv4Addr::new(10, 213, 1, 1), "db".to_string())].into(),
            }],
        }
    }

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(7)
            .set_message_type(MessageType::Query)
            .set_recursion_desired(true);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn show(r: Reply) -> String {
        match r {
            Reply::Answer(b) => {
                let m = Message::from_vec(&b).unwrap();
                let answers: Vec<String> = m
                    .answers()
                    .iter()
                    .map(|a| {
                        format!(
                            "{} {} {}",
                            a.name(),
                            a.ttl(),
                            a.data().map(|d| d.to_string()).unwrap_or_default()
                        )
                    })
                    .collect();
                format!("id={} {} {:?}", m.id(), m.response_code(), answers)
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn service_names_get_the_service_address_and_other_names_are_relayed() {
        let s = steering();
        let me = Ipv4Addr::new(172, 20, 0, 9);
        assert_eq!(
            show(answer(&query("db.", RecordType::A), me, &s)),
            r#"id=7 No Error ["db. 10 10.213.1.1"]"#
        );
        assert_eq!(
            show(answer(&query("DB.", RecordType::AAAA), me, &s)),
            "id=7 No Error []"
        );
        assert_eq!(
            show(answer(&query("example.org.", RecordType::A), me, &s)),
            "Forward"
        );
        // A stranger (not on a steered network) is refused, not relayed.
        assert_eq!(
            show(answer(
                &query("db.", RecordType::A),
                Ipv4Addr::new(192, 168, 1, 9),
                &s
            )),
            "id=7 Query Refused []"
        );
        assert_eq!(answer(b"\x00\x01garbage", me, &s), Reply::Drop);
        assert_eq!(
            show(Reply::Answer(
                servfail(&query("x.", RecordType::A)).unwrap()
            )),
            "id=7 Server Failure []"
        );
    }
}
