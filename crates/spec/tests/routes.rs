//! Routes in the stored spec: old state without them still loads, new state round-trips.
use roost_spec::Service;

#[test]
fn a_service_stored_before_routes_existed_still_deserializes() {
    let old = r#"{"image":"nginx","replicas":1,"x_roost":{"singleton":true}}"#;
    let s: Service = serde_json::from_str(old).unwrap();
    assert!(s.routes.is_empty());
    let again = serde_json::to_string(&s).unwrap();
    assert!(!again.contains("routes"), "no `routes` key when empty, so config hashes are unchanged: {again}");
}

#[test]
fn routes_round_trip_with_the_rule_as_text() {
    let json = r#"{"image":"nginx","replicas":1,"routes":[{"name":"web","rule":"Host(`a.example.com`) && PathPrefix(`/api`)","port":8080,"tls":{"acme":{"resolver":"le"}},"entrypoints":{"https":true},"origin":"compose.yaml:7:9"}]}"#;
    let s: Service = serde_json::from_str(json).unwrap();
    assert_eq!(s.routes[0].port, Some(8080));
    assert_eq!(s.routes[0].rule.to_string(), "Host(`a.example.com`) && PathPrefix(`/api`)");
    let again: Service = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}
