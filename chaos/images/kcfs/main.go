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
//
// disk.go holds the undo record, the cut and the failures; loopback.go the FUSE nodes and files;
// control.go the control socket; this file the two commands.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

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
