//! What the numbers were measured on: hardware, system and the versions of everything measured.

use runtime_api::Runtime;
use std::process::Command;

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub system: String,
    pub kernel: String,
    pub apache: String,
    pub rustc: String,
    pub build: &'static str,
    pub date: String,
    /// (runtime, engine version) for every runtime measured.
    pub runtimes: Vec<(&'static str, String)>,
}

pub fn describe(runtimes: &[&dyn Runtime]) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    let os_release = read("/etc/os-release");
    Machine {
        cpu: field(&cpuinfo, "model name", ':').unwrap_or_else(unknown),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory: field(&meminfo, "MemTotal", ':')
            .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(unknown, |kib| format!("{:.1} GiB", kib as f64 / 1048576.0)),
        system: field(&os_release, "PRETTY_NAME", '=')
            .map(|name| name.trim_matches('"').to_owned())
            .unwrap_or_else(unknown),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        apache: first_line(&output("apache2", &["-v"]))
            .trim_start_matches("Server version:")
            .trim()
            .to_owned(),
        rustc: first_line(&output("rustc", &["--version"])).to_owned(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        date: first_line(&output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])).to_owned(),
        runtimes: runtimes
            .iter()
            .map(|runtime| (runtime.name(), runtime.version()))
            .collect(),
    }
}

fn unknown() -> String {
    "unknown".to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn field(text: &str, name: &str, separator: char) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(separator)?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("unknown").trim();
    if line.is_empty() {
        "unknown"
    } else {
        line
    }
}
