package samples

import "encoding/json"

// ChatNames maps each chat of the sample conversation to a readable name (a
// person's first name or a group's title), for printing replies.
func ChatNames() map[int64]string {
	names := map[int64]string{}
	for _, body := range Updates() {
		var u map[string]json.RawMessage
		if json.Unmarshal(body, &u) != nil {
			continue
		}
		for _, v := range u {
			var obj struct {
				Chat *struct {
					ID        int64  `json:"id"`
					FirstName string `json:"first_name"`
					Title     string `json:"title"`
				} `json:"chat"`
			}
			if json.Unmarshal(v, &obj) != nil || obj.Chat == nil {
				continue
			}
			name := obj.Chat.FirstName
			if obj.Chat.Title != "" {
				name = obj.Chat.Title
			}
			names[obj.Chat.ID] = name
		}
	}
	return names
}
