//! Integration tests against the real engine (DOCKER_HOST or /var/run/docker.sock).
//! They fail, not skip, when no engine answers. Each uses a unique stack name and
//! cleans up after itself, also on failure.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use roost_core::observed::{ContainerState, Health};
use roost_docker::{DriverError, ContainerEvent};
use roost_spec::{DeviceMapping, Mount, MountKind, Port, PullPolicy};

/// Network + volume + two healthy web replicas that find each other by service name;
/// then removal leaves nothing of the stack behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_two_healthy_replicas_resolve_each_other() {
    let drv = driver().await;
    let name = unique_stack("life");
    let mut web = web_service();
    web.replicas = 2;
    web.volumes.push(Mount {
        kind: MountKind::Volume,
        source: Some("data".into()),
        target: "/data".into(),
        read_only: false,
        create_host_path: false,
        tmpfs_size: None,
    });
    let mut st = stack(&name, &[("web", web)]);
    st.volumes.insert("data".into(), Default::default());

    with_cleanup(&drv, &name, || async {
        // Twice: ensure_* is idempotent.
        for _ in 0..2 {
            drv.ensure_network(&st, "default").await.expect("network");
            drv.ensure_volume(&st, "data").await.expect("volume");
        }
        let id1 = drv.create_container(&st, "web", 1, "h1").await.expect("create 1");
        let id2 = drv.create_container(&st, "web", 2, "h1").await.expect("create 2");
        let dup = drv.create_container(&st, "web", 1, "h1").await;
        assert!(matches!(dup, Err(DriverError::Conflict { .. })), "{dup:?}");

        let obs = drv.observe().await.unwrap();
        let mine = of_stack(&obs, &name);
        assert_eq!(mine.len(), 2);
        assert!(mine.iter().all(|c| c.state == ContainerState::Created));
        assert!(obs.networks.iter().any(|n| n.name == format!("{name}_default") && n.resource == "default" && n.stack == name));
        assert!(obs.volumes.iter().any(|v| v.name == format!("{name}_data") && v.resource == "data"));

        drv.start_container(&id1).await.expect("start 1");
        drv.start_container(&id2).await.expect("start 2");
        let obs = wait_for(&drv, Duration::from_secs(10), "running", |o| {
            of_stack(o, &name).iter().all(|c| c.state == ContainerState::Running)
        })
        .await;
        let c1 = of_stack(&obs, &name).into_iter().find(|c| c.slot == 1).unwrap().clone();
        assert_eq!((c1.name.as_str(), c1.service.as_str(), c1.config_hash.as_str()), (format!("{name}-web-1").as_str(), "web", "h1"));
        wait_for(&drv, Duration::from_secs(30), "healthy", |o| {
            let mine = of_stack(o, &name);
            mine.len() == 2 && mine.iter().all(|c| c.health == Health::Healthy)
        })
        .await;

        // Service-name DNS on the stack network: both replicas answer to `web`.
        let (code, out) = exec(&drv, &id1, &["nslookup", "web"]).await;
        assert_eq!(code, 0, "nslookup web: {out}");
        assert!(out.matches("Address").count() >= 3, "two addresses for `web` (plus the server's): {out}");
        let (code, out) = exec(&drv, &id1, &["wget", "-q", "-O-", &format!("http://{name}-web-2:8080/")]).await;
        assert_eq!(code, 0, "replica 1 → replica 2: {out}");
        assert!(out.contains("roost test"), "{out}");
        let (code, out) = exec(&drv, &id2, &["wget", "-q", "-O-", "http://web:8080/"]).await;
        assert_eq!(code, 0, "replica 2 → web: {out}");

        for id in [&id1, &id2] {
            drv.remove_container(id, Some("SIGTERM"), Some(Duration::from_secs(2))).await.expect("remove");
            drv.remove_container(id, None, None).await.expect("removing twice is fine");
        }
        drv.remove_network(&st.docker_network_name("default")).await.expect("rm network");
        drv.remove_volume(&st.docker_volume_name("data")).await.expect("rm volume");
        drv.remove_network(&st.docker_network_name("default")).await.expect("rm network twice");
        drv.remove_volume(&st.docker_volume_name("data")).await.expect("rm volume twice");
        let obs = drv.observe().await.unwrap();
        assert!(of_stack(&obs, &name).is_empty());
        assert!(!obs.networks.iter().any(|n| n.stack == name));
        assert!(!obs.volumes.iter().any(|v| v.stack == name));
    })
    .await;
}

/// Two replicas publishing the same host port: the second start is PortInUse naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_conflict_is_port_in_use() {
    let drv = driver().await;
    let name = unique_stack("port");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let mut web = service(&["httpd", "-f", "-p", "8080", "-h", "/www"]);
    web.ports.push(Port { target: 8080, published: Some(port.to_string()), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into() });
    let st = stack(&name, &[("web", web)]);
    with_cleanup(&drv, &name, || async {
        drv.ensure_network(&st, "default").await.unwrap();
        let a = drv.create_container(&st, "web", 1, "h").await.unwrap();
        let b = drv.create_container(&st, "web", 2, "h").await.unwrap();
        drv.start_container(&a).await.expect("first start");
        let err = drv.start_container(&b).await.expect_err("second start must fail");
        match &err {
            DriverError::PortInUse { port: p, .. } => assert_eq!(p, &port.to_string()),
            other => panic!("expected PortInUse, got {other:?}"),
        }
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        let obs = drv.observe().await.unwrap();
        let c = of_stack(&obs, &name).into_iter().find(|c| c.slot == 1).unwrap().clone();
        assert_eq!(c.ports, vec![format!("127.0.0.1:{port}->8080/tcp")]);
    })
    .await;
}

/// A missing image: `never` refuses to pull; `missing` tries, fails (no registry here),
/// and both say ImageNotFound with the image name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_image_not_found() {
    let drv = driver().await;
    let name = unique_stack("img");
    let mut svc = service(&["true"]);
    svc.image = format!("roost-test/does-not-exist-{name}:v1");
    let mut st = stack(&name, &[("app", svc.clone())]);
    with_cleanup(&drv, &name, || async {
        drv.ensure_network(&st, "default").await.unwrap();
        let err = drv.create_container(&st, "app", 1, "h").await.expect_err("never pulls");
        assert!(matches!(&err, DriverError::ImageNotFound { image, .. } if *image == svc.image), "{err:?}");
        assert!(err.to_string().contains("is not present on this node"), "{err}");

        st.services.get_mut("app").unwrap().pull_policy = PullPolicy::Missing;
        let err = drv.create_container(&st, "app", 1, "h").await.expect_err("pull fails offline");
        assert!(matches!(&err, DriverError::ImageNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("pulling it failed"), "{err}");
        assert!(of_stack(&drv.observe().await.unwrap(), &name).is_empty());
    })
    .await;
}

/// The event stream reports the start of a managed container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_report_start() {
    let drv = driver().await;
    let name = unique_stack("ev");
    let st = stack(&name, &[("app", service(&["sleep", "30"]))]);
    with_cleanup(&drv, &name, || async {
        drv.ensure_network(&st, "default").await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ContainerEvent>();
        let events = drv.events();
        let pump = tokio::spawn(async move {
            futures_util::pin_mut!(events);
            while let Some(ev) = events.next().await {
                if tx.send(ev.expect("event")).is_err() {
                    break;
                }
            }
        });
        // Let the subscription reach the engine before acting.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let id = drv.create_container(&st, "app", 1, "h").await.unwrap();
        drv.start_container(&id).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(20), async {
            let mut seen = Vec::new();
            while let Some(ev) = rx.recv().await {
                if ev.container_id == id && ev.action == "start" {
                    return seen;
                }
                seen.push(ev);
            }
            panic!("event stream ended; saw {seen:?}");
        })
        .await;
        pump.abort(); // cancel-safe: dropping the stream just closes the connection
        let before = got.expect("a `start` event within 20 s");
        assert!(before.iter().any(|e| e.container_id == id && e.action == "create"), "{before:?}");
    })
    .await;
}

/// Logs of a finished container, whole and tailed; exit codes show in observe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_exit_codes() {
    let drv = driver().await;
    let name = unique_stack("log");
    let st = stack(
        &name,
        &[
            ("hello", service(&["sh", "-c", "echo hello; echo oops >&2; sleep 0.3; echo bye"])),
            ("fail", service(&["sh", "-c", "exit 3"])),
        ],
    );
    with_cleanup(&drv, &name, || async {
        drv.ensure_network(&st, "default").await.unwrap();
        let hello = drv.create_container(&st, "hello", 1, "h").await.unwrap();
        let fail = drv.create_container(&st, "fail", 1, "h").await.unwrap();
        drv.start_container(&hello).await.unwrap();
        drv.start_container(&fail).await.unwrap();
        let obs = wait_for(&drv, Duration::from_secs(15), "both exited", |o| {
            let m = of_stack(o, &name);
            m.len() == 2 && m.iter().all(|c| matches!(c.state, ContainerState::Exited { .. }))
        })
        .await;
        let code = |svc: &str| of_stack(&obs, &name).into_iter().find(|c| c.service == svc).unwrap().state;
        assert_eq!(code("hello"), ContainerState::Exited { code: Some(0) });
        assert_eq!(code("fail"), ContainerState::Exited { code: Some(3) });

        // stdout and stderr reach the log through separate pipes: their relative order
        // is not guaranteed, only each stream's own.
        let all = logs_text(&drv, &hello, None).await;
        let mut lines: Vec<&str> = all.lines().collect();
        lines.sort();
        assert_eq!(lines, ["bye", "hello", "oops"], "{all:?}");
        assert!(all.find("hello") < all.find("bye"), "{all:?}");
        assert_eq!(logs_text(&drv, &hello, Some(1)).await, "bye\n");
    })
    .await;
}

/// A device node mapped through `devices:` is a character device inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_mapping_reaches_the_container() {
    let drv = driver().await;
    let name = unique_stack("dev");
    let node = format!("/tmp/roost-dev-test-{name}");
    let status = std::process::Command::new("mknod").args([&node, "c", "1", "3"]).status().expect("run mknod");
    assert!(status.success(), "mknod {node} c 1 3 (needs root)");
    let mut svc = service(&["sh", "-c", "test -c /dev/roosttest && echo ok"]);
    svc.devices.push(DeviceMapping { host: node.clone(), container: "/dev/roosttest".into(), permissions: "rwm".into() });
    let st = stack(&name, &[("dev", svc)]);
    with_cleanup(&drv, &name, || async {
        drv.ensure_network(&st, "default").await.unwrap();
        let id = drv.create_container(&st, "dev", 1, "h").await.unwrap();
        drv.start_container(&id).await.unwrap();
        let obs = wait_for(&drv, Duration::from_secs(15), "exited", |o| {
            of_stack(o, &name).iter().any(|c| matches!(c.state, ContainerState::Exited { .. }))
        })
        .await;
        assert_eq!(of_stack(&obs, &name)[0].state, ContainerState::Exited { code: Some(0) });
        assert_eq!(logs_text(&drv, &id, None).await, "ok\n");
    })
    .await;
    let _ = std::fs::remove_file(&node);
}

/// External resources are checked, never created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_external_network_is_a_clear_error() {
    let drv = driver().await;
    let name = unique_stack("ext");
    let mut st = stack(&name, &[("app", service(&["true"]))]);
    st.networks.insert("proxy".into(), roost_spec::Network { external: true, name: Some(format!("{name}-proxy")), ..Default::default() });
    st.volumes.insert("media".into(), roost_spec::Volume { external: true, name: Some(format!("{name}-media")), ..Default::default() });
    with_cleanup(&drv, &name, || async {
        let err = drv.ensure_network(&st, "proxy").await.expect_err("missing external");
        assert!(matches!(err, DriverError::MissingExternal { kind: "network", .. }), "{err:?}");
        let err = drv.ensure_volume(&st, "media").await.expect_err("missing external");
        assert!(err.to_string().contains(&format!("external volume `{name}-media` does not exist")), "{err}");
    })
    .await;
}

/// A wrong address is reported as unreachable.
#[tokio::test]
async fn unreachable_engine() {
    let err = roost_docker::Driver::connect(Some("unix:///nonexistent/docker.sock")).await.expect_err("no engine there");
    assert!(err.is_unreachable(), "{err:?}");
}
