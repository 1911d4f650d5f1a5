package gitrepo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArchiveTarGzAddsVersionUnderPrefix(t *testing.T) {
	f := newFixture(t, "master")
	r := f.repo(f.clone)
	ctx := context.Background()
	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.2.3-rel", "HEAD", "Release v1.2.3-rel"))

	var buf bytes.Buffer
	err := r.ArchiveTarGz(ctx, "refs/tags/v1.2.3-rel", "tsd-import-v1.2.3-rel/",
		map[string]string{"VERSION": "v1.2.3-rel\n"}, &buf)
	require.NoError(t, err)

	files := untar(t, buf.Bytes())
	assert.Equal(t, "v1.2.3-rel\n", files["tsd-import-v1.2.3-rel/VERSION"])
	assert.Equal(t, "print('lims')\n", files["tsd-import-v1.2.3-rel/lims-exporter/main.py"])
	assert.Contains(t, files, "tsd-import-v1.2.3-rel/nsc-exporter/main.py")
	assert.Contains(t, files, "tsd-import-v1.2.3-rel/filelock-exporter/main.sh")
	assert.Len(t, files, 4)
}

func TestArchiveTarGzBadRef(t *testing.T) {
	f := newFixture(t, "master")
	err := f.repo(f.clone).ArchiveTarGz(context.Background(), "refs/tags/v9.9.9-rel", "x/", nil, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refs/tags/v9.9.9-rel")
	assert.Contains(t, err.Error(), f.clone)

	err = f.repo(f.clone).ArchiveTarGz(context.Background(), "HEAD", "x/", map[string]string{"a:b": "c"}, io.Discard)
	assert.ErrorContains(t, err, `"a:b"`)
}

// untar returns the regular files of a tar.gz by name.
func untar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = string(b)
	}
}
