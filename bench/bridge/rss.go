package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// resetPeakRSS returns the benchmark's memory to the OS and resets the kernel's peak RSS of
// this process (VmHWM) to its current RSS (echo 5 > /proc/self/clear_refs), so the peak read
// after the opsflow side is that side's, not the generator's or the upload's.
func resetPeakRSS() error {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak RSS (/proc/self/clear_refs): %w", err)
	}
	return nil
}

// procStatusKiB reads a "Name:   123 kB" line of /proc/self/status (VmHWM: peak RSS; VmRSS).
func procStatusKiB(name string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/self/status has no %s line", name)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
const clockTicks = 100

// procCPU is utime + stime of a process in seconds, 0 when it cannot be read.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces) start after the last ')'.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(rest) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(rest[11], 64)
	s, _ := strconv.ParseFloat(rest[12], 64)
	return (u + s) / clockTicks
}

// s3ServerPID is the stack's versitygw (its pid file under OPSFLOW_STACK_DIR), "" when unknown.
func s3ServerPID() string {
	dir := os.Getenv("OPSFLOW_STACK_DIR")
	if dir == "" {
		return ""
	}
	b, err := os.ReadFile(dir + "/run/versitygw.pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// loadAverage is /proc/loadavg's first three fields: what else ran on the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
