package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// packageFiles lists the package's files sorted by path, refusing the whole package before
// anything is sent when a file cannot be uploaded as it is: a link or other non-regular file
// (ErrInvalidPackage), a path that is not a safe object key (ErrUnsafeObjectKey), no file at
// all, or no description file (.sample/.analysis) for the kinds that have one.
func (a *UploadActivities) packageFiles(kind samplepkg.Kind, name string) ([]localFile, error) {
	dir := a.packageDir(kind, name)
	st, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, permanent(ErrInvalidPackage, nil, "package %s/%s is not in the export area (%s)", kind, name, dir)
	} else if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, permanent(ErrInvalidPackage, nil, "%s is not a directory", dir)
	}
	prefix := samplepkg.ObjectPrefix(kind, name)
	var files []localFile
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return permanent(ErrInvalidPackage, nil, "package %s/%s: %s is not a regular file (%s): refusing the package", kind, name, rel, d.Type())
		}
		key := prefix + rel
		if err := samplepkg.CheckPath(rel); err != nil {
			return permanent(ErrUnsafeObjectKey, err, "package %s/%s: %v", kind, name, err)
		}
		if !utf8.ValidString(key) || len(key) > maxKeyBytes {
			return permanent(ErrUnsafeObjectKey, nil, "package %s/%s: %q is not a valid S3 key (UTF-8, at most %d bytes)", kind, name, key, maxKeyBytes)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, localFile{rel: rel, path: p, key: key, size: info.Size(), mtime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, permanent(ErrInvalidPackage, nil, "package %s/%s holds no file", kind, name)
	}
	sortFiles(files)
	if desc := kind.DescriptionFile(name); desc != "" {
		if st, err := os.Stat(filepath.Join(dir, desc)); err != nil || !st.Mode().IsRegular() {
			return nil, permanent(ErrMalformedPackage, err, "package %s/%s has no %s: not completely written", kind, name, desc)
		}
	}
	return files, nil
}

// uploadFile makes f's object hold f and returns f's SHA-256: skipped when the object is
// there with f's size and SHA-256 metadata, else one PutObject for a small file or a
// (resumed) multipart upload for a large one.
func (a *UploadActivities) uploadFile(ctx context.Context, f localFile, resume uploadProgress, p *progress) (string, error) {
	if resume.Key == f.key {
		p.at(f.key, resume.UploadID) // a retry killed while hashing still names the upload
	} else {
		p.at(f.key, "")
	}
	sum, err := hashFile(ctx, f, p)
	if err != nil {
		return "", err
	}
	info, found, err := s3store.Head(ctx, a.S3, a.Bucket, f.key)
	if err != nil {
		return "", err
	}
	if found && info.Size == f.size && info.Metadata[sha256Meta] == sum {
		p.add(f.size, false)
		return sum, nil
	}
	if f.size > a.threshold() {
		err = a.uploadLarge(ctx, f, sum, resume, p)
	} else {
		err = a.putSmall(ctx, f, sum, p)
	}
	if err != nil {
		return "", err
	}
	if !unchanged(f) {
		return "", sourceChanged(f)
	}
	return sum, nil
}

// putSmall sends a file in one PutObject with its SHA-256 as metadata.
func (a *UploadActivities) putSmall(ctx context.Context, f localFile, sum string, p *progress) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = a.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(f.key),
		Body: &beatingReader{r: io.NewSectionReader(fh, 0, f.size), p: p}, ContentLength: aws.Int64(f.size),
		Metadata: map[string]string{sha256Meta: sum},
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", a.Bucket, f.key, err)
	}
	p.add(f.size, true)
	return nil
}

// hashFile is the SHA-256 of the local file, read whole, heartbeating while it reads (a
// multi-GB file takes seconds). A file that is not the size it was listed with changed.
func hashFile(ctx context.Context, f localFile, p *progress) (string, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var read, reported int64
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, rerr := fh.Read(buf)
		h.Write(buf[:n])
		read += int64(n)
		if read-reported >= progressBytes {
			p.beat()
			reported = read
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", fmt.Errorf("read %s: %w", f.path, rerr)
		}
	}
	if read != f.size || !unchanged(f) {
		return "", sourceChanged(f)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sourceChanged is the error of a file that changed while it was read.
func sourceChanged(f localFile) error {
	return permanent(ErrSourceChanged, nil, "%s changed while it was uploaded: the package is left for the next scan", f.path)
}
