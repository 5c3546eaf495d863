package handlers

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// TrustedProxies are the reverse proxies (addresses or networks) whose
// X-Forwarded-For and X-Forwarded-Proto the server believes. It is a
// flag.Value: "-trusted-proxy 127.0.0.1,::1" or the flag repeated. Empty, the
// default, believes nobody: the peer of the connection is the client.
type TrustedProxies []netip.Prefix

// Set adds a comma-separated list of addresses and CIDR networks.
func (tp *TrustedProxies) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			*tp = append(*tp, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP address or a network like 192.168.1.0/24", part)
		}
		*tp = append(*tp, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return nil
}

func (tp *TrustedProxies) String() string {
	if tp == nil {
		return ""
	}
	parts := make([]string, len(*tp))
	for i, p := range *tp {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Contains tells whether ip is one of the proxies.
func (tp TrustedProxies) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && slices.ContainsFunc(tp, func(p netip.Prefix) bool { return p.Contains(ip) })
}
