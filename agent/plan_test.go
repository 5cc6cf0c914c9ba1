package agent

import (
	"reflect"
	"testing"
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name  string
		want  uint64
		found []observed
		plan  plan
	}{
		{"nothing there: create", 3, nil, plan{Create: true}},
		{"same generation running: adopt", 3, []observed{{"a", 3, "running"}}, plan{Adopt: "a"}},
		{"same generation restarting: adopt", 3, []observed{{"a", 3, "restarting"}}, plan{Adopt: "a"}},
		{"same generation created (crash between create and start): recreate", 3,
			[]observed{{"a", 3, "created"}}, plan{Remove: []string{"a"}, Create: true}},
		{"same generation exited: start again", 3, []observed{{"a", 3, "exited"}}, plan{Start: "a"}},
		{"same generation dead: recreate", 3, []observed{{"a", 3, "dead"}}, plan{Remove: []string{"a"}, Create: true}},
		{"old generation running: replace", 3, []observed{{"a", 2, "running"}}, plan{Remove: []string{"a"}, Create: true}},
		{"newer generation running: replace too (the control plane is the truth)", 3,
			[]observed{{"a", 4, "running"}}, plan{Remove: []string{"a"}, Create: true}},
		{"unwanted: remove all", 0, []observed{{"a", 3, "running"}, {"b", 2, "exited"}},
			plan{Remove: []string{"a", "b"}}},
		{"two of the same generation: keep the running one only", 3,
			[]observed{{"a", 3, "exited"}, {"b", 3, "running"}}, plan{Remove: []string{"a"}, Adopt: "b"}},
		{"old and current: adopt current, remove old", 3,
			[]observed{{"a", 2, "running"}, {"b", 3, "running"}}, plan{Remove: []string{"a"}, Adopt: "b"}},
		{"missing generation label: replace", 3, []observed{{"a", 0, "running"}}, plan{Remove: []string{"a"}, Create: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decide(c.want, c.found)
			if !reflect.DeepEqual(got, c.plan) {
				t.Errorf("decide(%d, %v) = %+v, want %+v", c.want, c.found, got, c.plan)
			}
		})
	}
}
