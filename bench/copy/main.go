// Command copy is the filelock-exporter's copy benchmark (issue 10, `make bench-copy`): it
// generates -gib GiB of FASTQ-like files (a sample package: the reads and their .sample) and,
// in the same run, times
//
//	(a) cp -r of the files, then sync of the copies (the anchor);
//	(b) the same cp and sync, then sha256sum of the copies;
//	(c) opsflow's staging copy and check, the code PackageImport runs: activities.StageObjects,
//	    FetchPackage's local half (here each object is read from a local file instead of a
//	    ranged S3 GET), -concurrency files at once, each through a flocked part file written
//	    while MD5 and SHA-256 are computed on the same buffers (StageStream), fsynced, renamed,
//	    its directory fsynced, the digests recorded durably beside the staging directory; then
//	    VerifyPackage itself (in the SDK's activity test environment) checking the recorded
//	    digests and the files' sizes against the manifest and the .sample.
//
// The page cache cannot be dropped without root, so every variant copies sources written
// fresh just before it (same size, same data generator): each starts from the same cache state.
// It also measures MD5 and SHA-256 on one core, in memory, to say what the CPUs allow. It
// prints MB/s and the ratios opsflow/cp and opsflow/(cp + sha256sum), writes
// bench/results/copy-<UTC timestamp>.md and removes its scratch files.
package main

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/opsflow/opsflow/activities"
)

func main() {
	gib := flag.Float64("gib", 5, "GiB of files to copy in each variant")
	files := flag.Int("files", 10, "number of files")
	dir := flag.String("dir", defaultDir(), "scratch directory (on the disk to measure)")
	results := flag.String("results", "bench/results", "directory of the Markdown report")
	rounds := flag.Int("rounds", 2, "rounds of the three variants (alternating order); the fastest run of each is reported")
	conc := flag.Int("concurrency", activities.DefaultCopyConcurrency, "files staged at once by opsflow (ImportActivities.CopyConcurrency)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of opsflow's timed phases (the last round's) to this file")
	flag.Parse()
	if err := run(*gib, *files, *rounds, *conc, *dir, *results); err != nil {
		fmt.Fprintln(os.Stderr, "bench/copy:", err)
		os.Exit(1)
	}
}

// cpuProfile is -cpuprofile.
var cpuProfile string

// defaultDir is under the stack's directory (the disk the durable area is on in the dev
// stack), else the system's temporary directory.
func defaultDir() string {
	if d := os.Getenv("OPSFLOW_STACK_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

type variant struct {
	name string
	// phases are the variant's timed steps, in order.
	phases []phase
}

// source is one generated package: its directory and files (reads, then the .sample) with
// their digests, computed while they were written (untimed).
type source struct {
	dir   string
	files []genFile
}

type genFile struct {
	name        string
	size        int64
	md5, sha256 string
}

type phase struct {
	name string
	run  func(src source, dst string) error
}

type outcome struct {
	name   string
	total  time.Duration
	phases []time.Duration
	// runs are the totals of every round, in order.
	runs []time.Duration
}

func removeAll(dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

func run(gib float64, nfiles, rounds, conc int, dir, results string) error {
	if gib <= 0 || nfiles <= 0 || rounds <= 0 || conc <= 0 {
		return fmt.Errorf("-gib, -files, -rounds and -concurrency must be positive")
	}
	scratch, err := os.MkdirTemp(dir, "bench-copy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	perFile := int64(gib*(1<<30)) / int64(nfiles)
	total := perFile * int64(nfiles)
	names := make([]string, nfiles)
	for i := range names {
		names[i] = fmt.Sprintf("S%02d_L001_R1_001.fastq", i+1)
	}
	rates := measureHashes()
	cp := phase{"cp -r + sync", func(src source, dst string) error {
		if err := sh("cp", "-r", src.dir, dst); err != nil {
			return err
		}
		return sh("sync", paths(dst, src.names())...)
	}}
	ops, err := newOpsflow(conc)
	if err != nil {
		return err
	}
	variants := []variant{
		{"cp", []phase{cp}},
		{"cp + sha256sum", []phase{cp, {"sha256sum", func(src source, dst string) error {
			return sh("sha256sum", paths(dst, src.names())...)
		}}}},
		{"opsflow", []phase{
			{fmt.Sprintf("StageObjects (%d at once: write + MD5 + SHA-256, fsync, rename)", conc), ops.stage},
			{"VerifyPackage (recorded digests)", ops.verify},
		}},
	}
	// A warm-up copy, untimed: the first copy of a run was up to 2.5x slower than the same copy
	// later (the VM's disk), which would flatter whichever variant ran after it.
	fmt.Println("warm-up: one untimed cp of fresh sources...")
	warm := filepath.Join(scratch, "warm")
	src, err := generate(warm+"-src", names, perFile, 99)
	if err != nil {
		return err
	}
	if err := cp.run(src, warm); err != nil {
		return err
	}
	if err := removeAll(warm+"-src", warm); err != nil {
		return err
	}
	// Every round runs every variant, in the opposite order to the round before; the report
	// keeps each variant's fastest run.
	outs := make([]outcome, len(variants))
	for r := range rounds {
		for k := range variants {
			i := k
			if r%2 == 1 {
				i = len(variants) - 1 - k
			}
			v := variants[i]
			srcDir, dst := filepath.Join(scratch, fmt.Sprintf("src%d", i)), filepath.Join(scratch, fmt.Sprintf("dst%d", i))
			fmt.Printf("round %d, %s: writing %d files of %d MiB (fresh sources)...\n", r+1, v.name, nfiles, perFile>>20)
			src, err := generate(srcDir, names, perFile, uint64(r*len(variants)+i))
			if err != nil {
				return err
			}
			o := outcome{name: v.name}
			stopProfile, err := profile(v.name == "opsflow")
			if err != nil {
				return err
			}
			for _, p := range v.phases {
				start := time.Now()
				if err := p.run(src, dst); err != nil {
					return fmt.Errorf("%s, %s: %w", v.name, p.name, err)
				}
				o.phases = append(o.phases, time.Since(start))
				o.total += o.phases[len(o.phases)-1]
			}
			stopProfile()
			fmt.Printf("round %d, %s: %.1f s, %.0f MB/s\n", r+1, v.name, o.total.Seconds(), mbps(total, o.total))
			o.runs = append(outs[i].runs, o.total)
			if outs[i].total == 0 || o.total < outs[i].total {
				outs[i] = o
			} else {
				outs[i].runs = o.runs
			}
			if err := removeAll(srcDir, dst); err != nil {
				return err
			}
		}
	}
	report := render(outs, variants, total, nfiles, conc, rates, scratch)
	fmt.Print(report)
	if err := os.MkdirAll(results, 0o755); err != nil {
		return err
	}
	file := filepath.Join(results, "copy-"+time.Now().UTC().Format("20060102-150405")+".md")
	if err := os.WriteFile(file, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", file)
	return nil
}

// profile starts the CPU profile when on and -cpuprofile is set: the opsflow phases of a
// round (the last round's profile is the file's).
func profile(on bool) (func(), error) {
	if !on || cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func (s source) names() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.name
	}
	return out
}

func paths(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func sh(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	return cmd.Run()
}

// generate writes names under dir, size bytes each, of FASTQ records (random bases and
// qualities, from a block of 64 KiB of records rotated through a 4 MiB pool so the data does
// not repeat at a short period), and the package's .sample listing them with their MD5s, then
// fsyncs them: the sources are on disk and in the page cache, as a download just written
// would be. It returns the files with their digests.
func generate(dir string, names []string, size int64, seed uint64) (source, error) {
	src := source{dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return src, err
	}
	r := rand.New(rand.NewPCG(seed, 42))
	pool := fastqPool(r, 4<<20)
	var reads []string
	for fi, n := range names {
		m, s := md5.New(), sha256.New()
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			return src, err
		}
		w := io.MultiWriter(f, m, s)
		buf := make([]byte, 0, 1<<20)
		for written := int64(0); written < size; {
			buf = buf[:0]
			for len(buf) < cap(buf) {
				off := r.IntN(len(pool) - 64<<10)
				buf = append(buf, pool[off:off+min(64<<10, cap(buf)-len(buf))]...)
			}
			chunk := buf[:min(int64(len(buf)), size-written)]
			copy(chunk, fmt.Sprintf("@f%d:%d", fi, written)) // a distinct header per chunk
			if _, err := w.Write(chunk); err != nil {
				f.Close()
				return src, err
			}
			written += int64(len(chunk))
		}
		if err := closeSynced(f); err != nil {
			return src, err
		}
		g := genFile{name: n, size: size, md5: hexSum(m), sha256: hexSum(s)}
		src.files = append(src.files, g)
		reads = append(reads, fmt.Sprintf(`{"path":%q,"md5":%q,"size":%d}`, g.name, g.md5, g.size))
	}
	sample := []byte(fmt.Sprintf(`{"name":%q,"reads":[%s]}`, packageName, strings.Join(reads, ",")))
	f, err := os.Create(filepath.Join(dir, packageName+".sample"))
	if err != nil {
		return src, err
	}
	if _, err := f.Write(sample); err != nil {
		f.Close()
		return src, err
	}
	if err := closeSynced(f); err != nil {
		return src, err
	}
	m, s := md5.Sum(sample), sha256.Sum256(sample)
	src.files = append(src.files, genFile{name: packageName + ".sample", size: int64(len(sample)),
		md5: hex.EncodeToString(m[:]), sha256: hex.EncodeToString(s[:])})
	return src, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func closeSynced(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fastqPool(r *rand.Rand, size int) []byte {
	const bases = "ACGT"
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "@A00123:8:H7KJ3DSXY:1:1101:%d:%d 1:N:0:ACGTACGT\n", r.IntN(30000), i)
		seq, qual := make([]byte, 150), make([]byte, 150)
		for j := range seq {
			seq[j], qual[j] = bases[r.IntN(4)], byte('F'-r.IntN(12))
		}
		b.Write(seq)
		b.WriteString("\n+\n")
		b.Write(qual)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }
