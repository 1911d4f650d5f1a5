package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc CPU times; 100 on every Linux this runs on.
const clockTicks = 100

// selfRole is the benchmark process: the raw client during the raw side; the alias reader
// and the queue monitor during the opsflow side (the simulators run in their own process).
const selfRole = "bench process"

// cpuSample is CPU seconds used so far: per role (one process each, found by pid: the servers
// by the port they listen on, the worker and the simulators as the benchmark's children), and
// by the whole machine.
type cpuSample struct {
	roles map[string]float64
	total float64
}

// sampleCPU reads the CPU time of the processes in pids (role → pid; 0 is skipped) and of the
// machine. On a small machine the sides are CPU-bound, and which process burns the CPU says
// where to optimise.
func sampleCPU(pids map[string]int) cpuSample {
	s := cpuSample{roles: map[string]float64{}}
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
	s.roles[selfRole] = procCPU("self")
	for role, pid := range pids {
		if pid > 0 {
			s.roles[role] = procCPU(strconv.Itoa(pid))
		}
	}
	return s
}

// procCPU is utime+stime of a process (all its threads) in seconds, 0 when it is gone.
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

// cpuUse is what a side cost in CPU seconds, per role and on the whole machine.
type cpuUse struct {
	roles map[string]float64
	total float64
}

// since is the CPU used between two samples. A process that exited in between (the worker,
// stopped after the last sample of its side) is not in the later sample: callers sample
// before stopping it; a role only in the later sample started in between and counts whole.
func (s cpuSample) since(before cpuSample) cpuUse {
	u := cpuUse{roles: map[string]float64{}, total: s.total - before.total}
	for k, v := range s.roles {
		u.roles[k] = v - before.roles[k]
	}
	return u
}

// everythingElse is the machine's busy time no listed process accounts for.
func (u cpuUse) everythingElse() float64 {
	rest := u.total
	for _, v := range u.roles {
		rest -= v
	}
	return max(rest, 0)
}

// cpuTable is the markdown table of where the CPU went, one row per role and a column per
// side, roles in a fixed order (then any other, by name).
func cpuTable(names []string, sides ...cpuUse) string {
	order := []string{roleWorker, roleSearch, roleSQS, roleRabbit, roleSims, roleTemporal, selfRole}
	seen := map[string]bool{}
	for _, r := range order {
		seen[r] = true
	}
	var extra []string
	for _, u := range sides {
		for k := range u.roles {
			if !seen[k] {
				seen[k] = true
				extra = append(extra, k)
			}
		}
	}
	sort.Strings(extra)
	var b strings.Builder
	fmt.Fprintf(&b, "| process (CPU-s from /proc) | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	for _, role := range append(order, extra...) {
		cells := make([]string, len(sides))
		for i, u := range sides {
			v, ok := u.roles[role]
			cells[i] = "-"
			if ok {
				cells[i] = fmt.Sprintf("%.1f", v)
			}
		}
		fmt.Fprintf(&b, "| %s | %s |\n", role, strings.Join(cells, " | "))
	}
	cells, totals := make([]string, len(sides)), make([]string, len(sides))
	for i, u := range sides {
		cells[i] = fmt.Sprintf("%.1f", u.everythingElse())
		totals[i] = fmt.Sprintf("**%.1f**", u.total)
	}
	fmt.Fprintf(&b, "| everything else | %s |\n", strings.Join(cells, " | "))
	fmt.Fprintf(&b, "| **machine busy** | %s |\n", strings.Join(totals, " | "))
	return b.String()
}
