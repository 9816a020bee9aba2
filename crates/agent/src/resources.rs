//! What this machine offers workloads, announced in the cluster (`roost nodes`) and
//! used by placement later: CPUs, memory, GPUs and /dev/dri render devices.

use roost_cluster::state::Resources;

pub fn detect() -> Resources {
    let cpus = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let list = |dir: &str, prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(prefix))
                    .map(|n| format!("{dir}/{n}"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let gpus = list("/dev", "nvidia").into_iter().filter(|d| d.trim_start_matches("/dev/nvidia").parse::<u32>().is_ok()).collect();
    let devices = list("/dev/dri", "");
    Resources { cpus, memory_bytes, gpus, devices }
}
