package profile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"text/template/parse"
)

// optionalVars may be empty even when a template uses them: a model key the
// operator did not configure renders as an absent variable (see Render).
// ChatIDs may be empty for a private tenant whose only chat is its owner.
var optionalVars = map[string]bool{"MoonshotAPIKey": true, "AnthropicAPIKey": true, "ChatIDs": true}

// checkUsed fails when a template uses a Vars field that is empty, naming the
// field only. A missing pseudo token or webhook secret would otherwise start
// a container that can never work, or worse, one with an open webhook.
func checkUsed(name string, t *parse.Tree, v Vars) error {
	rv := reflect.ValueOf(v)
	for _, field := range fieldsUsed(t.Root) {
		f := rv.FieldByName(field)
		if !f.IsValid() || optionalVars[field] {
			continue // unknown names fail at execution with a clear message
		}
		if f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0) {
			return fmt.Errorf("%s: Vars.%s is empty", name, field)
		}
	}
	return nil
}

// fieldsUsed lists the first identifier of every field reference in the
// tree ({{.BotToken}} gives "BotToken").
func fieldsUsed(n parse.Node) []string {
	var out []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			out = append(out, n.Ident[0])
		case *parse.IfNode:
			walkBranch(&n.BranchNode, walk)
		case *parse.RangeNode:
			walkBranch(&n.BranchNode, walk)
		case *parse.WithNode:
			walkBranch(&n.BranchNode, walk)
		}
	}
	walk(n)
	return out
}

// walkBranch walks only the pipeline of if/range/with: inside the body of
// range and with the dot is no longer Vars.
func walkBranch(b *parse.BranchNode, walk func(parse.Node)) {
	walk(b.Pipe)
	if b.NodeType == parse.NodeIf {
		walk(b.List)
		walk(b.ElseList)
	}
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return string(b), nil
}

func telegramGroups(ids []int64) (string, error) {
	type group struct {
		RequireMention bool   `json:"requireMention"`
		GroupPolicy    string `json:"groupPolicy"`
	}
	groups := map[string]group{}
	for _, id := range ids {
		if id < 0 {
			groups[strconv.FormatInt(id, 10)] = group{RequireMention: true, GroupPolicy: "open"}
		}
	}
	return toJSON(groups)
}
