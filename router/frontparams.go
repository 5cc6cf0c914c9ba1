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

// callParams is what one Bot API call names that the front's policy
// (frontpolicy.go) looks at.
type callParams struct {
	// chats is every chat the call acts on or reads from: chat_id,
	// from_chat_id, and the chat_id of reply_parameters (a reply may quote
	// another chat).
	chats []string
	// chatID says a top-level chat_id is present, so the call acts in a chat
	// rather than on the bot or on a user directly.
	chatID bool
	// users is every top-level user_id.
	users []string
	// business says a non-empty business_connection_id is present.
	business bool
}

const replyKey = "reply_parameters"

// paramKeys are the parameters callParams reads; multipart bodies skip
// every other part.
var paramKeys = map[string]bool{
	"chat_id": true, "from_chat_id": true, "user_id": true,
	"business_connection_id": true, replyKey: true,
}

// add records one parameter; forms and JSON bodies both end here.
func (p *callParams) add(key, val string) error {
	switch key {
	case "chat_id":
		p.chatID = true
		p.chats = append(p.chats, val)
	case "from_chat_id":
		p.chats = append(p.chats, val)
	case "user_id":
		p.users = append(p.users, val)
	case "business_connection_id":
		p.business = p.business || strings.TrimSpace(val) != ""
	case replyKey:
		return p.addReply(json.RawMessage(val))
	}
	return nil
}

// addReply reads reply_parameters, given as an object (JSON bodies) or as a
// JSON-serialized string (forms). Only its chat counts: its other fields
// do not act on anything.
func (p *callParams) addReply(raw json.RawMessage) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var reply callParams
	if err := reply.addJSON(raw); err != nil {
		return err
	}
	p.chats = append(p.chats, reply.chats...)
	return nil
}

// requestParams reads a Bot API call wherever Telegram would: the query
// string and a JSON, urlencoded or multipart body. A body of another type is
// refused, since what it names cannot be checked.
func requestParams(req *http.Request, body []byte) (callParams, error) {
	var p callParams
	if err := p.addForm(req.URL.Query()); err != nil {
		return p, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		return p, errors.New("unsupported content type")
	}
	switch ct {
	case "application/json":
		err = p.addJSON(body)
	case "application/x-www-form-urlencoded":
		var form url.Values
		if form, err = url.ParseQuery(string(body)); err == nil {
			err = p.addForm(form)
		}
	case "multipart/form-data":
		err = p.addMultipart(body, params["boundary"])
	default:
		err = errors.New("unsupported content type")
	}
	return p, err
}

// addJSON reads the top-level object as a token stream, so a key given
// twice is seen twice (a map would keep only one of them).
func (p *callParams) addJSON(body []byte) error {
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
		if key == replyKey {
			err = p.addReply(raw)
		} else if paramKeys[key] {
			err = p.add(key, jsonScalar(raw))
		}
		if err != nil {
			return err
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

func (p *callParams) addForm(form url.Values) error {
	for key, vals := range form {
		for _, v := range vals {
			if err := p.add(key, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// addMultipart reads the non-file fields of a multipart body.
func (p *callParams) addMultipart(body []byte, boundary string) error {
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
		if name := part.FormName(); paramKeys[name] {
			v, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				return errors.New("malformed multipart body")
			}
			form.Add(name, string(v))
		}
		part.Close()
	}
	return p.addForm(form)
}
