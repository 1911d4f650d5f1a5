package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// machine describes the host: the figures only mean something next to it.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(rest), &kb)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

// loadAvg is the 1/5/15-minute load at the start of a side: other work on the machine (a
// test run) slows a side, and the report should say so.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// procStatus reads a "Key: <n> kB" line of /proc/<pid>/status in bytes; pid may be "self".
// VmHWM is the peak resident set (the kernel keeps it, so no sampling can miss a spike),
// VmRSS the current one.
func procStatus(pid, key string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", key, pid)
}

// vmHWM is the peak resident set of a process in bytes.
func vmHWM(pid string) (int64, error) { return procStatus(pid, "VmHWM") }

// vmRSS is the current resident set of a process in bytes.
func vmRSS(pid string) (int64, error) { return procStatus(pid, "VmRSS") }

// loopbackPort is the port of a server URL (or host:port) on this machine, 0 when the server
// runs elsewhere: only a local server's process can be found in /proc.
func loopbackPort(addr string) int {
	host, port := addr, ""
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		host, port = u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443", "amqp": "5672"}[u.Scheme]
		}
	} else if h, p, err := net.SplitHostPort(addr); err == nil {
		host, port = h, p
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// listeningPID is the process listening on a TCP port of this machine (IPv4 or IPv6,
// OpenSearch's JVM listens on [::ffff:127.0.0.1]), found through the socket's inode in
// /proc/net/tcp{,6} and the process's file descriptors. 0 when none is found (or it belongs
// to a user whose /proc entries this process may not read).
func listeningPID(port int) int {
	if port <= 0 {
		return 0
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode (field 9); st 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		fds, _ := os.ReadDir(d + "/fd")
		for _, fd := range fds {
			if link, err := os.Readlink(d + "/fd/" + fd.Name()); err == nil && inodes[link] {
				pid, _ := strconv.Atoi(filepath.Base(d))
				return pid
			}
		}
	}
	return 0
}

// commandName is a process's executable name (comm), for the report: "java", "beam.smp".
func commandName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
