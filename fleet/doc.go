// Package fleet is the multi-host test suite: it starts a local fleet with
// deploy/compose/fleet.sh (three control planes, three agents and a router,
// each in its own container, tenants as sibling containers on the host's
// engine) and injects faults by killing, stopping and disconnecting
// containers. Every scenario asserts that no acknowledged update is lost,
// none is delivered twice or to another tenant, and no tenant ever has two
// running containers.
//
// It has tests only, and they run only with ZAKI_FLEET_TEST=1 (`make
// test-fleet`, which builds the images first), so `go test ./...` starts no
// fleet. The suite's fleet has a name, networks and ports of its own, so it
// runs beside a fleet someone started by hand; the environment's ZAKI_IMAGE
// (default zaki:dev) picks the image of every zaki part.
package fleet
