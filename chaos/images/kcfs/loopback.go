package main

// The filesystem: go-fuse's loopback nodes and files, each change recorded on the disk first.

import (
	"context"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

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
