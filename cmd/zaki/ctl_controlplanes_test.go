package main

import (
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestWriteControlPlanes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	err := writeControlPlanes(&b, []*zakiv1.ControlPlane{
		{Id: "cp1", GrpcAddress: "cp1:7400", StartedAt: timestamppb.New(now.Add(-90 * time.Minute)), Version: "v1"},
		{Id: "cp2", GrpcAddress: "cp2:7400", Leader: true, StartedAt: timestamppb.New(now.Add(-time.Minute))},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "ID   ADDRESS   LEADER  UP       VERSION\n" +
		"cp1  cp1:7400  -       1h30m0s  v1\n" +
		"cp2  cp2:7400  yes     1m0s     -\n"
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
