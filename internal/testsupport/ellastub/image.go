package ellastub

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// imageMagic is the first line of a stand-in image: what makes a file one.
const imageMagic = "ELLA stand-in image"

// Image is what a stand-in image holds: the release it is and its migration head.
type Image struct {
	Version string
	Head    string
}

// Stand-in releases: v1's schema, v2 whose migration adds MigratedColumn to MigratedTable
// (as ELLA's releases add columns), and v3 whose migration fails.
var (
	ImageV1 = Image{Version: "v1.0.0", Head: Revisions[0].ID}
	ImageV2 = Image{Version: "v2.0.0", Head: Revisions[1].ID}
	// ImageBroken's migration fails (division by zero) after v2's.
	ImageBroken = Image{Version: "v3.0.0", Head: Revisions[2].ID}
)

// Content is the image file's text.
func (i Image) Content() []byte {
	return []byte(fmt.Sprintf("%s\nversion: %s\nhead: %s\n", imageMagic, i.Version, i.Head))
}

// WriteImage writes a stand-in image file (mode 0644).
func WriteImage(path string, img Image) error { return os.WriteFile(path, img.Content(), 0o644) }

// ReadImage reads a stand-in image through path (a symlink is followed, as singularity does).
func ReadImage(path string) (Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Image{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != imageMagic {
		return Image{}, fmt.Errorf("%s is not an ELLA stand-in image", path)
	}
	var img Image
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case "version":
			img.Version = v
		case "head":
			img.Head = v
		}
	}
	if img.Version == "" || revisionIndex(img.Head) < 0 {
		return Image{}, fmt.Errorf("%s: stand-in image without a version or with an unknown head %q", path, img.Head)
	}
	return img, nil
}
