package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrNotLoopback is returned for a target that is not on this machine.
var ErrNotLoopback = errors.New("loadgen: target is not a loopback address (use --allow-non-loopback to send elsewhere)")

// CheckLoopback resolves host and fails with ErrNotLoopback unless every
// address it resolves to is a loopback address (127.0.0.0/8 or ::1).
func CheckLoopback(ctx context.Context, host string) error {
	addrs, err := resolve(ctx, host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, a)
		}
	}
	return nil
}

// resolve returns host's addresses; an IP literal is its own address.
func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.WithZone("")}, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("loadgen: resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("loadgen: resolve %q: no address", host)
	}
	return addrs, nil
}

// dialer dials TCP. Unless allowAny is set, it checks the address it is
// about to dial (after resolution) and dials only loopback addresses, so
// neither a changed resolution nor a redirect can send load elsewhere.
type dialer struct {
	allowAny bool
	d        net.Dialer
}

// DialContext dials address ("host:port") over TCP.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if d.allowAny {
		return d.d.DialContext(ctx, network, address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %q: %w", address, err)
	}
	addrs, err := resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, a)
		}
	}
	for _, a := range addrs {
		c, err := d.d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
