package activities

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
)

// Bounds of one health check's measurements.
const (
	ellaProbeTimeout = 30 * time.Second
	ellaProbeBody    = 4 << 20  // bytes of a page read for its response time
	ellaLogChunk     = 64 << 20 // access log bytes read per check; the rest is read next time
)

// probe times one GET of url, body included; no answer is Status 0 with the error.
func probe(ctx context.Context, url string) ella.Probe {
	p := ella.Probe{URL: url}
	ctx, cancel := context.WithTimeout(ctx, ellaProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, ellaProbeBody))
		resp.Body.Close()
		if err == nil {
			p.Status = resp.StatusCode
		}
	}
	p.Millis = time.Since(start).Milliseconds()
	if err != nil {
		p.Error = err.Error()
	}
	return p
}

// accessLogScan is what scanAccessLog read: the new requests and where to go on from.
type accessLogScan struct {
	requests, status5xx int
	rotated             bool
	inode               uint64
	offset              int64
}

// accessLineRE is nginx's combined (and common) log format up to the status:
// `addr ident user [time] "request" status ...`.
var accessLineRE = regexp.MustCompile(`^\S+ \S+ \S+ \[[^\]]*\] "(?:[^"\\]|\\.)*" (\d{3}) `)

// scanAccessLog counts the requests and 5xx in the log's complete lines after offset. With
// no previous position (had false) it starts at the end: the first check is the baseline.
// A different inode (rotated) or a file shorter than offset (truncated) is read from its
// beginning. At most ellaLogChunk bytes are read; the rest is left for the next check.
func scanAccessLog(ctx context.Context, path string, had bool, inode uint64, offset int64) (accessLogScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return accessLogScan{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return accessLogScan{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return accessLogScan{}, errors.New("no inode for the access log on this system")
	}
	s := accessLogScan{inode: st.Ino, offset: offset}
	switch {
	case !had:
		s.offset = fi.Size()
		return s, nil
	case st.Ino != inode || fi.Size() < offset:
		s.rotated, s.offset = true, 0
	}
	if _, err := f.Seek(s.offset, io.SeekStart); err != nil {
		return accessLogScan{}, err
	}
	r := bufio.NewReaderSize(io.LimitReader(f, ellaLogChunk), 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return accessLogScan{}, err
		}
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: skip to its end, it is no request line.
			n := int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				n += int64(len(line))
			}
			if err != nil {
				break
			}
			s.offset += n
			continue
		}
		if err != nil {
			break // io.EOF: an incomplete last line is read next time
		}
		s.offset += int64(len(line))
		m := accessLineRE.FindSubmatch(bytes.TrimRight(line, "\r\n"))
		if m == nil {
			continue
		}
		s.requests++
		if m[1][0] == '5' {
			s.status5xx++
		}
	}
	return s, nil
}

// healthDB is what pg_stat_activity and uiexception told.
type healthDB struct {
	newRows                                  int
	maxID, topID                             int64 // the highest id after lastID (else lastID), and of all
	connections, longQueries, longestSeconds int
}

// queryHealthDB counts uiexception rows after id lastID (and the highest ids), the client
// connections to ELLA's database and its queries running longer than longSecs, with psql.
// Query texts are never read: they may hold patient data.
func (a *EllaActivities) queryHealthDB(ctx context.Context, lastID int64, longSecs int) (healthDB, error) {
	if a.PG.Database == "" {
		return healthDB{}, errNoPGDatabase
	}
	long := fmt.Sprintf(`datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND state <> 'idle' AND now() - query_start > make_interval(secs => %d)`, longSecs)
	query := fmt.Sprintf(`SELECT (SELECT count(*) FROM uiexception WHERE id > %[1]d),
  (SELECT coalesce(max(id), %[1]d) FROM uiexception WHERE id > %[1]d),
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'),
  (SELECT count(*) FROM pg_stat_activity WHERE %[2]s),
  (SELECT coalesce(max(extract(epoch FROM now() - query_start))::bigint, 0) FROM pg_stat_activity WHERE %[2]s),
  (SELECT coalesce(max(id), 0) FROM uiexception);`, lastID, long)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, code, err := a.runPG(ctx, []string{"psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query})
	if err != nil {
		return healthDB{}, err
	}
	if code != 0 {
		return healthDB{}, fmt.Errorf("psql exited %d: %s", code, out)
	}
	f := strings.Split(strings.TrimSpace(out), "\t")
	if len(f) != 6 {
		return healthDB{}, fmt.Errorf("psql: unexpected answer %q", out)
	}
	var n [6]int64
	for i, v := range f {
		if n[i], err = strconv.ParseInt(v, 10, 64); err != nil {
			return healthDB{}, fmt.Errorf("psql: unexpected answer %q", out)
		}
	}
	return healthDB{newRows: int(n[0]), maxID: n[1], connections: int(n[2]), longQueries: int(n[3]), longestSeconds: int(n[4]), topID: n[5]}, nil
}

// readLoad fills the load averages from /proc/loadavg and the CPU count.
func readLoad(m *ella.HealthMeasurements) error {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return fmt.Errorf("/proc/loadavg: unexpected %q", data)
	}
	for i, dst := range []*float64{&m.Load1, &m.Load5, &m.Load15} {
		if *dst, err = strconv.ParseFloat(f[i], 64); err != nil {
			return fmt.Errorf("/proc/loadavg: %w", err)
		}
	}
	m.CPUs = runtime.NumCPU()
	return nil
}

// programStates are the supervisord states of programs (MISSING: supervisord does not know it).
func (a *EllaActivities) programStates(ctx context.Context, programs []string) (map[string]string, error) {
	if a.Supervisor == nil {
		return nil, errors.New("no supervisord is configured (EllaActivities.Supervisor)")
	}
	all, err := a.Supervisor.AllProcessInfo(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]supervisor.ProcessInfo{}
	for _, p := range all {
		byName[p.Name] = p
	}
	states := map[string]string{}
	for _, name := range programs {
		if p, ok := byName[name]; ok {
			states[name] = p.StateName
		} else {
			states[name] = "MISSING"
		}
	}
	return states, nil
}
