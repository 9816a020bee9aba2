//! Snapshot tests of the spec → Docker mapping. Refresh with `UPDATE_EXPECT=1`.

use super::{container_config, extra_networks, network_config, volume_config};
use crate::DriverError;
use expect_test::{expect, Expect};
use roost_spec::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// Serializes with sorted keys so `HashMap` order never shows in a snapshot.
fn check<T: serde::Serialize>(value: &T, want: Expect) {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<String, serde_json::Value> =
                    m.into_iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(sort).collect()),
            other => other,
        }
    }
    let v = sort(serde_json::to_value(value).unwrap());
    want.assert_eq(&serde_json::to_string_pretty(&v).unwrap());
}

fn s(x: &str) -> String {
    x.to_string()
}

fn rich_stack() -> Stack {
    let web = Service {
        image: s("roost-test/busybox:latest"),
        command: Some(vec![s("httpd"), s("-f"), s("-p"), s("8080")]),
        entrypoint: Some(vec![s("/bin/busybox")]),
        environment: BTreeMap::from([(s("A"), s("1")), (s("B"), s("two words"))]),
        ports: vec![
            Port { target: 8080, published: Some(s("18080")), host_ip: None, protocol: s("tcp") },
            Port { target: 8080, published: Some(s("18081")), host_ip: Some(s("127.0.0.1")), protocol: s("tcp") },
            Port { target: 53, published: Some(s("5300-5301")), host_ip: None, protocol: s("udp") },
            Port { target: 9000, published: None, host_ip: None, protocol: s("tcp") },
        ],
        expose: vec![s("7000"), s("7001-7002/udp")],
        volumes: vec![
            Mount { kind: MountKind::Volume, source: Some(s("data")), target: s("/data"), read_only: false, create_host_path: false, tmpfs_size: None },
            Mount { kind: MountKind::Volume, source: Some(s("shared")), target: s("/shared"), read_only: true, create_host_path: false, tmpfs_size: None },
            Mount { kind: MountKind::Volume, source: None, target: s("/anon"), read_only: false, create_host_path: false, tmpfs_size: None },
            Mount { kind: MountKind::Bind, source: Some(s("/srv/conf")), target: s("/conf"), read_only: true, create_host_path: true, tmpfs_size: None },
            Mount { kind: MountKind::Bind, source: Some(s("/srv/strict")), target: s("/strict"), read_only: true, create_host_path: false, tmpfs_size: None },
            Mount { kind: MountKind::Tmpfs, source: None, target: s("/cache"), read_only: false, create_host_path: false, tmpfs_size: Some(1 << 20) },
        ],
        networks: BTreeMap::from([
            (s("back"), ServiceNetwork { aliases: vec![s("api"), s("web")], ipv4_address: Some(s("172.30.0.10")) }),
            (s("front"), ServiceNetwork { aliases: vec![s("www")], ipv4_address: None }),
        ]),
        healthcheck: Some(Healthcheck {
            test: vec![s("CMD-SHELL"), s("wget -q -O- http://localhost:8080/")],
            interval: Some(Duration::from_secs(2)),
            timeout: Some(Duration::from_millis(1500)),
            retries: Some(3),
            start_period: Some(Duration::from_secs(10)),
            start_interval: Some(Duration::from_millis(500)),
        }),
        labels: BTreeMap::from([(s("traefik.enable"), s("true"))]),
        user: Some(s("65534:65534")),
        working_dir: Some(s("/www")),
        hostname: Some(s("web-host")),
        cap_add: vec![s("NET_ADMIN")],
        cap_drop: vec![s("MKNOD")],
        privileged: false,
        devices: vec![DeviceMapping { host: s("/dev/dri"), container: s("/dev/dri"), permissions: s("rwm") }],
        device_requests: vec![DeviceRequest {
            driver: Some(s("nvidia")),
            count: Some(-1),
            device_ids: vec![],
            capabilities: vec![vec![s("gpu")]],
            options: BTreeMap::from([(s("foo"), s("bar"))]),
        }],
        security_opt: vec![s("no-new-privileges:true")],
        sysctls: BTreeMap::from([(s("net.core.somaxconn"), s("1024"))]),
        ulimits: BTreeMap::from([(s("nofile"), Ulimit { soft: 1024, hard: 4096 })]),
        shm_size: Some(64 << 20),
        tmpfs: vec![s("/run:size=65536"), s("/tmp")],
        stop_signal: Some(s("SIGQUIT")),
        stop_grace_period: Some(Duration::from_millis(10_500)),
        init: Some(true),
        logging: Some(Logging { driver: Some(s("json-file")), options: BTreeMap::from([(s("max-size"), s("10m"))]) }),
        replicas: 2,
        resources: Resources {
            limits: ResourceSet { cpus: Some(0.5), memory: Some(256 << 20), pids: Some(100) },
            reservations: ResourceSet { cpus: Some(0.25), memory: Some(64 << 20), pids: None },
        },
        secrets: vec![FileRef { source: s("token"), target: s("/run/secrets/token"), mode: Some(0o400) }],
        configs: vec![FileRef { source: s("site"), target: s("/etc/site.conf"), mode: None }],
        extra_hosts: vec![s("host.docker.internal:host-gateway")],
        dns: vec![s("1.1.1.1")],
        dns_search: vec![s("lan")],
        read_only: true,
        tty: true,
        stdin_open: true,
        group_add: vec![s("video")],
        runtime: Some(s("runc")),
        pid: Some(s("host")),
        ipc: Some(s("shareable")),
        pull_policy: PullPolicy::Never,
        ..Default::default()
    };
    Stack {
        name: s("demo"),
        services: BTreeMap::from([(s("web"), web)]),
        networks: BTreeMap::from([
            (s("back"), Network { internal: true, labels: BTreeMap::from([(s("tier"), s("db"))]), ..Default::default() }),
            (s("front"), Network { name: Some(s("edge")), ..Default::default() }),
        ]),
        volumes: BTreeMap::from([
            (s("data"), Volume::default()),
            (s("shared"), Volume { name: Some(s("shared-media")), driver: Some(s("local")), driver_opts: BTreeMap::from([(s("type"), s("tmpfs"))]), ..Default::default() }),
        ]),
        secrets: BTreeMap::from([(s("token"), FileObject { file: Some(s("/srv/secrets/token")), content: None })]),
        configs: BTreeMap::from([(s("site"), FileObject { file: Some(s("/srv/site.conf")), content: None })]),
    }
}

#[test]
fn rich_service() {
    let stack = rich_stack();
    check(&container_config(&stack, "web", 2, "cafe").unwrap(), expect![[r#"
        {
          "Cmd": [
            "httpd",
            "-f",
            "-p",
            "8080"
          ],
          "Entrypoint": [
            "/bin/busybox"
          ],
          "Env": [
            "A=1",
            "B=two words"
          ],
          "ExposedPorts": {
            "53/udp": {},
            "7000/tcp": {},
            "7001/udp": {},
            "7002/udp": {},
            "8080/tcp": {},
            "9000/tcp": {}
          },
          "Healthcheck": {
            "Interval": 2000000000,
            "Retries": 3,
            "StartInterval": 500000000,
            "StartPeriod": 10000000000,
            "Test": [
              "CMD-SHELL",
              "wget -q -O- http://localhost:8080/"
            ],
            "Timeout": 1500000000
          },
          "HostConfig": {
            "Binds": [
              "demo_data:/data",
              "shared-media:/shared:ro",
              "/srv/conf:/conf:ro",
              "/srv/secrets/token:/run/secrets/token:ro",
              "/srv/site.conf:/etc/site.conf:ro"
            ],
            "CapAdd": [
              "NET_ADMIN"
            ],
            "CapDrop": [
              "MKNOD"
            ],
            "DeviceRequests": [
              {
                "Capabilities": [
                  [
                    "gpu"
                  ]
                ],
                "Count": -1,
                "Driver": "nvidia",
                "Options": {
                  "foo": "bar"
                }
              }
            ],
            "Devices": [
              {
                "CgroupPermissions": "rwm",
                "PathInContainer": "/dev/dri",
                "PathOnHost": "/dev/dri"
              }
            ],
            "Dns": [
              "1.1.1.1"
            ],
            "DnsSearch": [
              "lan"
            ],
            "ExtraHosts": [
              "host.docker.internal:host-gateway"
            ],
            "GroupAdd": [
              "video"
            ],
            "Init": true,
            "IpcMode": "shareable",
            "LogConfig": {
              "Config": {
                "max-size": "10m"
              },
              "Type": "json-file"
            },
            "Memory": 268435456,
            "MemoryReservation": 67108864,
            "Mounts": [
              {
                "ReadOnly": true,
                "Source": "/srv/strict",
                "Target": "/strict",
                "Type": "bind"
              }
            ],
            "NanoCpus": 500000000,
            "PidMode": "host",
            "PidsLimit": 100,
            "PortBindings": {
              "53/udp": [
                {
                  "HostPort": "5300-5301"
                }
              ],
              "8080/tcp": [
                {
                  "HostPort": "18080"
                },
                {
                  "HostIp": "127.0.0.1",
                  "HostPort": "18081"
                }
              ],
              "9000/tcp": [
                {
                  "HostPort": ""
                }
              ]
            },
            "ReadonlyRootfs": true,
            "RestartPolicy": {
              "Name": "no"
            },
            "Runtime": "runc",
            "SecurityOpt": [
              "no-new-privileges:true"
            ],
            "ShmSize": 67108864,
            "Sysctls": {
              "net.core.somaxconn": "1024"
            },
            "Tmpfs": {
              "/cache": "size=1048576",
              "/run": "size=65536",
              "/tmp": ""
            },
            "Ulimits": [
              {
                "Hard": 4096,
                "Name": "nofile",
                "Soft": 1024
              }
            ]
          },
          "Hostname": "web-host",
          "Image": "roost-test/busybox:latest",
          "Labels": {
            "com.docker.compose.container-number": "2",
            "com.docker.compose.oneoff": "False",
            "com.docker.compose.project": "demo",
            "com.docker.compose.service": "web",
            "io.roost.config-hash": "cafe",
            "io.roost.managed": "true",
            "io.roost.service": "web",
            "io.roost.slot": "2",
            "io.roost.stack": "demo",
            "traefik.enable": "true"
          },
          "NetworkingConfig": {
            "EndpointsConfig": {
              "demo_back": {
                "Aliases": [
                  "web",
                  "api"
                ],
                "IPAMConfig": {
                  "IPv4Address": "172.30.0.10"
                }
              }
            }
          },
          "OpenStdin": true,
          "StopSignal": "SIGQUIT",
          "StopTimeout": 11,
          "Tty": true,
          "User": "65534:65534",
          "Volumes": {
            "/anon": {}
          },
          "WorkingDir": "/www"
        }"#]]);
}

#[test]
fn rich_service_extra_networks() {
    let stack = rich_stack();
    check(&extra_networks(&stack, "web").unwrap(), expect![[r#"
        [
          [
            "edge",
            {
              "Aliases": [
                "web",
                "www"
              ]
            }
          ]
        ]"#]]);
}

#[test]
fn network_mode_service() {
    let mut stack = rich_stack();
    let vpn = Service {
        image: s("vpn"),
        network_mode: Some(s("service:web")),
        replicas: 1,
        ..Default::default()
    };
    stack.services.insert(s("vpn"), vpn);
    check(&container_config(&stack, "vpn", 1, "h").unwrap(), expect![[r#"
        {
          "HostConfig": {
            "NetworkMode": "container:demo-web-1",
            "RestartPolicy": {
              "Name": "no"
            }
          },
          "Image": "vpn",
          "Labels": {
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
            "com.docker.compose.project": "demo",
            "com.docker.compose.service": "vpn",
            "io.roost.config-hash": "h",
            "io.roost.managed": "true",
            "io.roost.service": "vpn",
            "io.roost.slot": "1",
            "io.roost.stack": "demo"
          }
        }"#]]);
    assert!(extra_networks(&stack, "vpn").unwrap().is_empty());

    stack.services.get_mut("vpn").unwrap().network_mode = Some(s("host"));
    let body = container_config(&stack, "vpn", 1, "h").unwrap();
    assert_eq!(body.host_config.unwrap().network_mode.as_deref(), Some("host"));
    assert!(body.networking_config.is_none());
}

#[test]
fn network_and_volume_bodies() {
    let stack = rich_stack();
    check(&network_config(&stack, "back"), expect![[r#"
        {
          "Driver": "bridge",
          "Internal": true,
          "Labels": {
            "com.docker.compose.network": "back",
            "com.docker.compose.project": "demo",
            "io.roost.managed": "true",
            "io.roost.resource": "back",
            "io.roost.stack": "demo",
            "tier": "db"
          },
          "Name": "demo_back"
        }"#]]);
    check(&volume_config(&stack, "shared"), expect![[r#"
        {
          "Driver": "local",
          "DriverOpts": {
            "type": "tmpfs"
          },
          "Labels": {
            "com.docker.compose.project": "demo",
            "com.docker.compose.volume": "shared",
            "io.roost.managed": "true",
            "io.roost.resource": "shared",
            "io.roost.stack": "demo"
          },
          "Name": "shared-media"
        }"#]]);
}

#[test]
fn content_secrets_and_unknown_names_are_errors() {
    let mut stack = rich_stack();
    assert!(matches!(container_config(&stack, "nope", 1, "h"), Err(DriverError::InvalidSpec { .. })));
    stack.secrets.insert(s("token"), FileObject { file: None, content: Some(s("x")) });
    let err = container_config(&stack, "web", 1, "h").unwrap_err();
    assert!(matches!(err, DriverError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("secret `token`"), "{err}");
    stack.secrets.clear();
    assert!(matches!(container_config(&stack, "web", 1, "h"), Err(DriverError::InvalidSpec { .. })));
}

#[test]
fn routed_ports_are_exposed_never_published() {
    let mut web = Service {
        image: s("img"),
        ports: vec![Port { target: 9000, published: Some(s("19000")), host_ip: None, protocol: s("tcp") }],
        ..Default::default()
    };
    web.routes = serde_json::from_str(
        r#"[{"name":"a","rule":"Host(`a.lan`)","port":8080,"tls":"off","entrypoints":{"http":true}},
            {"name":"b","rule":"Host(`b.lan`)","tls":"off","entrypoints":{"http":true}}]"#,
    )
    .unwrap();
    let stack = Stack { name: s("demo"), services: BTreeMap::from([(s("web"), web)]), ..Default::default() };
    let body = container_config(&stack, "web", 1, "h").unwrap();
    let host = body.host_config.unwrap();
    // Only the file's own `ports:` entry is bound; the routed port is exposed for the
    // proxy, which reaches it over the cluster network, and nothing is published for
    // a route without a port.
    check(&(body.exposed_ports, host.port_bindings, host.publish_all_ports), expect![[r#"
        [
          [
            "9000/tcp",
            "8080/tcp"
          ],
          {
            "9000/tcp": [
              {
                "HostPort": "19000"
              }
            ]
          },
          null
        ]"#]]);
}
