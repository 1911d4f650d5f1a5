// Package fsync makes what a program wrote durable before it publishes it: the files' data and
// the directory entries that name them. A rename that publishes a tree (a package moved into
// place, a part file renamed over its final name) is only safe after both.
package fsync

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir fsyncs a directory, making the names created, renamed or removed in it durable.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Tree fsyncs every regular file and directory under root, root included, so that what a
// rename of root publishes is on disk before the rename. Other entries (links, devices) are
// left alone.
func Tree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		return nil
	})
}
