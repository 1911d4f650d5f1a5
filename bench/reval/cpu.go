package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc CPU times; 100 on every Linux this runs on.
const clockTicks = 100

// cpuRoles names the processes whose CPU time the report splits a leg into, by a substring
// of their command line: on a small machine the legs are CPU-bound, and which process
// burns the CPU says where to optimise. The worker and estest-server are the benchmark's
// own children, matched by the path of its temporary directory so a test's worker running
// at the same time counts as "everything else".
func cpuRoles(tmp string) []struct{ role, match string } {
	return []struct{ role, match string }{
		{"worker", tmp + "/opsflow-worker"},
		{"estest-server", tmp + "/estest-server"},
		{"RabbitMQ", "beam.smp"},
		{"SQS server", "sqs-server.js"},
		{"Temporal", "temporal\x00server\x00start-dev"},
	}
}

// cpuSample is CPU seconds used so far: per role, by this process, and by the whole machine.
type cpuSample struct {
	roles       map[string]float64
	self, total float64
}

func sampleCPU(tmp string) cpuSample {
	s := cpuSample{roles: map[string]float64{}}
	s.self = procCPU("self")
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...: busy = all but idle, iowait.
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			n, _ := strconv.ParseFloat(v, 64)
			if i != 3 && i != 4 && i < 8 {
				s.total += n / clockTicks
			}
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	self := strconv.Itoa(os.Getpid())
	roles := cpuRoles(tmp)
	for _, d := range dirs {
		pid := filepath.Base(d)
		if pid == self {
			continue
		}
		cmd, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		for _, r := range roles {
			if strings.Contains(string(cmd), r.match) {
				s.roles[r.role] += procCPU(pid)
				break
			}
		}
	}
	return s
}

// procCPU is utime+stime of a process in seconds (0 when it is gone).
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(rest) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(rest[11], 64)
	st, _ := strconv.ParseFloat(rest[12], 64)
	return (u + st) / clockTicks
}

// cpuUse is what a leg cost in CPU seconds.
type cpuUse struct {
	roles       map[string]float64
	self, total float64
}

// since is the CPU used between two samples. A process that exited in between (the worker,
// stopped after the last sample of its leg is taken) is not in the later sample: callers
// sample before stopping it.
func (s cpuSample) since(before cpuSample) cpuUse {
	u := cpuUse{roles: map[string]float64{}, self: s.self - before.self, total: s.total - before.total}
	for k, v := range s.roles {
		u.roles[k] = v - before.roles[k]
	}
	return u
}

// String is "bench process 12.0, RabbitMQ 30.1, ..., everything else 3.2 of 80.0 CPU-s
// busy". The bench process runs the simulators, and in the raw leg the bare client.
func (u cpuUse) String() string {
	keys := make([]string, 0, len(u.roles))
	for k := range u.roles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprintf("bench process %.1f", u.self)}
	rest := u.total - u.self
	for _, k := range keys {
		if u.roles[k] < 0.05 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", k, u.roles[k]))
		rest -= u.roles[k]
	}
	parts = append(parts, fmt.Sprintf("everything else %.1f", max(rest, 0)))
	return fmt.Sprintf("%s of %.1f CPU-s busy", strings.Join(parts, ", "), u.total)
}
