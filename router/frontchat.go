package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// chatKeys are the parameters that name a chat a call acts on or reads from.
// reply_parameters may name another chat to quote from, so its chat_id counts.
var chatKeys = map[string]bool{"chat_id": true, "from_chat_id": true}

const replyKey = "reply_parameters"

// requestChats returns every chat a Bot API call names, wherever Telegram
// would read it: the query string and a JSON, urlencoded or multipart body.
// A body of another type is refused, since its chats cannot be checked.
func requestChats(req *http.Request, body []byte) ([]string, error) {
	var chats []string
	if err := formChats(req.URL.Query(), &chats); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return chats, nil
	}
	ct, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		return nil, errors.New("unsupported content type")
	}
	switch ct {
	case "application/json":
		err = jsonChats(body, &chats)
	case "application/x-www-form-urlencoded":
		var form url.Values
		if form, err = url.ParseQuery(string(body)); err == nil {
			err = formChats(form, &chats)
		}
	case "multipart/form-data":
		err = multipartChats(body, params["boundary"], &chats)
	default:
		err = errors.New("unsupported content type")
	}
	if err != nil {
		return nil, err
	}
	return chats, nil
}

// jsonChats reads the top-level object as a token stream, so a key given
// twice is seen twice (a map would keep only one of them).
func jsonChats(body []byte, chats *[]string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("body is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("body is not valid JSON")
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errors.New("body is not valid JSON")
		}
		switch {
		case chatKeys[key]:
			*chats = append(*chats, jsonScalar(raw))
		case key == replyKey:
			if err := replyChats(raw, chats); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonScalar returns a number's digits or a string's text.
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// replyChats reads reply_parameters, given as an object (JSON bodies) or as
// a JSON-serialized string (forms).
func replyChats(raw json.RawMessage, chats *[]string) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return jsonChats(raw, chats)
}

func formChats(form url.Values, chats *[]string) error {
	for key, vals := range form {
		for _, v := range vals {
			switch {
			case chatKeys[key]:
				*chats = append(*chats, v)
			case key == replyKey:
				if err := replyChats(json.RawMessage(v), chats); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// multipartChats reads the non-file fields of a multipart body.
func multipartChats(body []byte, boundary string, chats *[]string) error {
	if boundary == "" {
		return errors.New("multipart body without boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	form := url.Values{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.New("malformed multipart body")
		}
		name := part.FormName()
		if chatKeys[name] || name == replyKey {
			v, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				return errors.New("malformed multipart body")
			}
			form.Add(name, string(v))
		}
		part.Close()
	}
	return formChats(form, chats)
}
