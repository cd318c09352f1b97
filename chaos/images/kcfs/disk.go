package main

// The undo record of un-fsynced changes, the power cut that applies it, and the failures a
// disk can be told to return.

import (
	"fmt"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

const block = 4096

// pending is what one file (by inode) changed since its last fsync.
type pending struct {
	fd     int              // a descriptor of its own (read-write), so the undo survives renames and closes
	size   int64            // the size at the last fsync
	blocks map[int64][]byte // old content of each block below size since overwritten
}

// disk holds the record of un-fsynced changes and the injected failures.
type disk struct {
	gate    sync.RWMutex // every change holds it shared; a cut takes it for good
	mu      sync.Mutex
	files   map[uint64]*pending
	failure syscall.Errno
	prefix  string
	cut     bool
	fsyncs  int64 // fsyncs seen, for stats
}

func newDisk() *disk { return &disk{files: map[uint64]*pending{}} }

// failing reports the injected errno for an operation on rel, or 0.
func (d *disk) failing(rel string, writes bool) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failure == 0 || !under(rel, d.prefix) {
		return 0
	}
	if d.failure == syscall.ENOSPC && !writes {
		return 0
	}
	return d.failure
}

// under reports whether rel is prefix or inside it ("" holds everything).
func under(rel, prefix string) bool {
	return prefix == "" || rel == prefix || strings.HasPrefix(rel, prefix+"/")
}

// entry returns the record of fd's file, making it (with the current size) on first change.
func (d *disk) entry(fd int) (*pending, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	p, ok := d.files[st.Ino]
	if ok {
		return p, 0
	}
	// Its own descriptor, open for reading and writing whatever fd's mode: /proc reopens the file.
	own, err := syscall.Open(fmt.Sprintf("/proc/self/fd/%d", fd), syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	p = &pending{fd: own, size: st.Size, blocks: map[int64][]byte{}}
	d.files[st.Ino] = p
	return p, 0
}

// save keeps the old content of the blocks of [from, to) below the file's synced size.
func (d *disk) save(fd int, from, to int64) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, errno := d.entry(fd)
	if errno != 0 {
		return errno
	}
	if to > p.size {
		to = p.size
	}
	for b := from / block; from < to && b*block < to; b++ {
		if _, done := p.blocks[b]; done {
			continue
		}
		n := min(int64(block), p.size-b*block)
		buf := make([]byte, n)
		if _, err := syscall.Pread(p.fd, buf, b*block); err != nil {
			return fs.ToErrno(err)
		}
		p.blocks[b] = buf
	}
	return 0
}

// synced forgets fd's file: everything in it is durable now.
func (d *disk) synced(fd int) {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fsyncs++
	if p, ok := d.files[st.Ino]; ok {
		syscall.Close(p.fd)
		delete(d.files, st.Ino)
	}
}

// forget drops the record of the file at path if removing that name removes the file.
func (d *disk) forget(path string) {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil || st.Nlink > 1 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.files[st.Ino]; ok {
		syscall.Close(p.fd)
		delete(d.files, st.Ino)
	}
}

// report is the answer to "cut" and "stats".
type report struct {
	Files        int    `json:"files"`
	BytesDropped int64  `json:"bytes_dropped"`
	BlocksBack   int    `json:"blocks_restored"`
	Fsyncs       int64  `json:"fsyncs"`
	Cut          bool   `json:"cut"`
	Failure      string `json:"failure,omitempty"`
	Prefix       string `json:"prefix,omitempty"`
	Error        string `json:"error,omitempty"`
}

// powerCut stops every change for good, then puts each changed file back as of its last fsync.
func (d *disk) powerCut() report {
	d.gate.Lock() // never released: the machine is off
	d.mu.Lock()
	defer d.mu.Unlock()
	r := report{Cut: true, Fsyncs: d.fsyncs}
	if d.cut {
		return r
	}
	d.cut = true
	for _, p := range d.files {
		var st syscall.Stat_t
		if syscall.Fstat(p.fd, &st) != nil || st.Nlink == 0 {
			continue // removed since: nothing to put back
		}
		r.Files++
		if st.Size > p.size {
			r.BytesDropped += st.Size - p.size
		}
		if err := syscall.Ftruncate(p.fd, p.size); err != nil {
			r.Error = err.Error()
		}
		for b, old := range p.blocks {
			if _, err := syscall.Pwrite(p.fd, old, b*block); err != nil {
				r.Error = err.Error()
			}
			r.BlocksBack++
		}
	}
	return r
}

func (d *disk) stats() report {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := report{Files: len(d.files), Fsyncs: d.fsyncs, Cut: d.cut, Prefix: d.prefix}
	if d.failure != 0 {
		r.Failure = unix.ErrnoName(d.failure)
	}
	return r
}
