package main

// The control socket: one command a line, one JSON answer.

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"strings"
	"syscall"
)

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
