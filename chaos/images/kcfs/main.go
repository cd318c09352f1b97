// kcfs: the data directory of a Kafka broker, as a disk with a volatile write cache.
//
// A loopback FUSE filesystem over a store directory. Every write reaches the store at once, so a
// broker killed by SIGKILL (a process crash, the machine still up) finds all of it again. What kcfs
// adds is a record of what has not been fsynced: for each file changed since its last fsync, the
// size it had then and the old content of every 4 KiB block of that size since overwritten. The
// command "cut" (a power cut) stops every change to the filesystem for good and undoes every
// un-fsynced change in the store, so that after the container is killed and started again the
// broker finds exactly what a machine that lost power would find: each file as of its last fsync.
// Names are durable (create, rename, unlink and mkdir are kept), as on a journalling filesystem
// after its journal commit; file contents are not.
//
// It can also fail: "fail eio PREFIX" makes every operation under PREFIX return EIO, "fail enospc
// PREFIX" makes writes, creates and allocations there return ENOSPC, and "heal" ends both.
//
// Usage:
//
//	kcfs mount STORE MOUNTPOINT SOCKET   serve until killed; answer commands on SOCKET
//	kcfs ctl SOCKET COMMAND [ARG]        send one command, print the JSON answer
//
// After a cut the server is gone; "cut" asked again prints the answer the cut gave (kept in
// SOCKET.cut until the next mount).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
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

// ---- the filesystem ----------------------------------------------------------------------------

type node struct {
	fs.LoopbackNode
	disk *disk
}

func (n *node) rel(name string) string {
	return filepath.Join(n.Path(n.Root()), name)
}

func (n *node) full(name string) string {
	return filepath.Join(n.RootData.Path, n.rel(name))
}

// change runs a mutating operation under the gate, failing it when a failure is injected.
func (n *node) change(rel string, fn func() syscall.Errno) syscall.Errno {
	if errno := n.disk.failing(rel, true); errno != 0 {
		return errno
	}
	n.disk.gate.RLock()
	defer n.disk.gate.RUnlock()
	return fn()
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	rel := n.Path(n.Root())
	if errno := n.disk.failing(rel, flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0); errno != 0 {
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 {
		n.disk.gate.RLock()
		defer n.disk.gate.RUnlock()
		if errno := n.saveAll(filepath.Join(n.RootData.Path, rel)); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &file{inner: fh.(*fs.LoopbackFile), disk: n.disk, rel: rel}, fuseFlags, 0
}

// saveAll keeps the whole synced content of the file at path (before it is truncated by name).
func (n *node) saveAll(path string) syscall.Errno {
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		return 0 // no such file yet: nothing to keep
	}
	defer syscall.Close(fd)
	return n.disk.save(fd, 0, 1<<62)
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	var inode *fs.Inode
	var fh fs.FileHandle
	var fuseFlags uint32
	errno := n.change(n.rel(name), func() syscall.Errno {
		if flags&syscall.O_TRUNC != 0 {
			if errno := n.saveAll(n.full(name)); errno != 0 {
				return errno
			}
		}
		var errno syscall.Errno
		inode, fh, fuseFlags, errno = n.LoopbackNode.Create(ctx, name, flags, mode, out)
		return errno
	})
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, &file{inner: fh.(*fs.LoopbackFile), disk: n.disk, rel: n.rel(name)}, fuseFlags, 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	size, resize := in.GetSize()
	if !resize {
		if lf, ok := f.(*file); ok {
			f = lf.inner
		}
		return n.LoopbackNode.Setattr(ctx, f, in, out)
	}
	return n.change(n.Path(n.Root()), func() syscall.Errno {
		if lf, ok := f.(*file); ok {
			if errno := lf.withFd(func(fd int) syscall.Errno { return n.disk.save(fd, int64(size), 1<<62) }); errno != 0 {
				return errno
			}
			return n.LoopbackNode.Setattr(ctx, lf.inner, in, out)
		}
		path := filepath.Join(n.RootData.Path, n.Path(n.Root()))
		fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
		if err != nil {
			return fs.ToErrno(err)
		}
		defer syscall.Close(fd)
		if errno := n.disk.save(fd, int64(size), 1<<62); errno != 0 {
			return errno
		}
		return n.LoopbackNode.Setattr(ctx, nil, in, out)
	})
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.change(n.rel(name), func() syscall.Errno {
		n.disk.forget(n.full(name))
		return n.LoopbackNode.Unlink(ctx, name)
	})
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	to, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	return n.change(n.rel(name), func() syscall.Errno {
		if flags&unix.RENAME_EXCHANGE == 0 {
			n.disk.forget(to.full(newName)) // a replaced target is removed
		}
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	})
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var inode *fs.Inode
	errno := n.change(n.rel(name), func() syscall.Errno {
		var errno syscall.Errno
		inode, errno = n.LoopbackNode.Mkdir(ctx, name, mode, out)
		return errno
	})
	return inode, errno
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.change(n.rel(name), func() syscall.Errno { return n.LoopbackNode.Rmdir(ctx, name) })
}

// CopyFileRange is refused, so the kernel falls back to reads and writes that kcfs records.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

// file wraps a loopback file; it deliberately has no PassthroughFd, so every write reaches kcfs.
type file struct {
	inner *fs.LoopbackFile
	disk  *disk
	rel   string
}

func (f *file) withFd(fn func(fd int) syscall.Errno) syscall.Errno {
	fd, ok := f.inner.PassthroughFd()
	if !ok {
		return syscall.EBADF
	}
	return fn(fd)
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if errno := f.disk.failing(f.rel, false); errno != 0 {
		return nil, errno
	}
	return f.inner.Read(ctx, buf, off)
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	var n uint32
	errno := f.change(func(fd int) syscall.Errno {
		if errno := f.disk.save(fd, off, off+int64(len(data))); errno != 0 {
			return errno
		}
		var errno syscall.Errno
		n, errno = f.inner.Write(ctx, data, off)
		return errno
	})
	return n, errno
}

func (f *file) change(fn func(fd int) syscall.Errno) syscall.Errno {
	if errno := f.disk.failing(f.rel, true); errno != 0 {
		return errno
	}
	f.disk.gate.RLock()
	defer f.disk.gate.RUnlock()
	return f.withFd(fn)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.change(func(fd int) syscall.Errno {
		if errno := f.inner.Fsync(ctx, flags); errno != 0 {
			return errno
		}
		f.disk.synced(fd)
		return 0
	})
}

func (f *file) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return f.change(func(fd int) syscall.Errno {
		if errno := f.disk.save(fd, int64(off), int64(off+size)); errno != 0 {
			return errno
		}
		return f.inner.Allocate(ctx, off, size, mode)
	})
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.inner.Setattr(ctx, in, out)
}

func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.Getattr(ctx, out)
}
func (f *file) Release(ctx context.Context) syscall.Errno { return f.inner.Release(ctx) }
func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.inner.Flush(ctx) }
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.Lseek(ctx, off, whence)
}
func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.inner.Getlk(ctx, owner, lk, flags, out)
}
func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.Setlk(ctx, owner, lk, flags)
}
func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.Setlkw(ctx, owner, lk, flags)
}

// ---- control ---------------------------------------------------------------------------------

func (d *disk) command(line string) report {
	words := strings.Fields(line)
	if len(words) == 0 {
		return report{Error: "empty command"}
	}
	switch words[0] {
	case "cut":
		return d.powerCut()
	case "stats":
		return d.stats()
	case "heal":
		d.mu.Lock()
		d.failure, d.prefix = 0, ""
		d.mu.Unlock()
		return d.stats()
	case "fail":
		if len(words) < 2 || (words[1] != "eio" && words[1] != "enospc") {
			return report{Error: "fail needs eio or enospc"}
		}
		d.mu.Lock()
		d.failure = map[string]syscall.Errno{"eio": syscall.EIO, "enospc": syscall.ENOSPC}[words[1]]
		d.prefix = ""
		if len(words) > 2 {
			d.prefix = strings.Trim(words[2], "/")
		}
		d.mu.Unlock()
		return d.stats()
	}
	return report{Error: "unknown command " + words[0]}
}

// cutRecord is where the answer to a cut is kept: the server exits right after giving it, and a
// caller whose answer was lost on the way finds it there (see control).
func cutRecord(socket string) string { return socket + ".cut" }

func serveControl(d *disk, socket string) error {
	_ = os.Remove(socket)
	_ = os.Remove(cutRecord(socket)) // powered on again
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				line, _ := bufio.NewReader(c).ReadString('\n')
				answer := d.command(line)
				if answer.Cut {
					if b, err := json.Marshal(answer); err == nil {
						_ = os.WriteFile(cutRecord(socket), append(b, '\n'), 0o644)
					}
				}
				_ = json.NewEncoder(c).Encode(answer)
				c.Close()
				if answer.Cut {
					// The power is off: end the FUSE connection too, so every request still waiting
					// (the broker's threads are blocked in them) fails at once and the broker can
					// be killed. Nothing more reaches the store.
					os.Exit(0)
				}
			}()
		}
	}()
	return nil
}

func mount(store, mnt, socket string) error {
	d := newDisk()
	root := &fs.LoopbackRoot{Path: store}
	var st syscall.Stat_t
	if err := syscall.Stat(store, &st); err != nil {
		return err
	}
	root.Dev = uint64(st.Dev)
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, disk: d}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	sec := time.Second
	server, err := fs.Mount(mnt, rootNode, &fs.Options{
		AttrTimeout:  &sec,
		EntryTimeout: &sec,
		MountOptions: fuse.MountOptions{
			AllowOther:  true,
			FsName:      "kcfs:" + store,
			Name:        "kcfs",
			DirectMount: true,
			MaxWrite:    1 << 20,
		},
	})
	if err != nil {
		return err
	}
	if err := serveControl(d, socket); err != nil {
		_ = server.Unmount()
		return err
	}
	server.Wait()
	return nil
}

func control(socket string, args []string) error {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		// The power is already off: a cut asked again gets the answer the cut gave.
		if answer, readErr := os.ReadFile(cutRecord(socket)); readErr == nil && args[0] == "cut" {
			fmt.Print(string(answer))
			return nil
		}
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintln(c, strings.Join(args, " ")); err != nil {
		return err
	}
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Print(answer)
	var r report
	if json.Unmarshal([]byte(answer), &r) == nil && r.Error != "" {
		return fmt.Errorf("%s", r.Error)
	}
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "mount":
		err = mount(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) >= 4 && os.Args[1] == "ctl":
		err = control(os.Args[2], os.Args[3:])
	default:
		fmt.Fprintln(os.Stderr, "usage: kcfs mount STORE MOUNTPOINT SOCKET | kcfs ctl SOCKET COMMAND [ARG]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcfs:", err)
		os.Exit(1)
	}
}
