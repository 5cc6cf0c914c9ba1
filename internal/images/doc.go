// Package images builds the images Zaki runs from local files, through the
// Docker Engine API with the classic builder, so nothing is pulled: a build
// context is assembled in memory as a tar (a Dockerfile plus the files it
// copies), sent to ImageBuild, and the JSON progress stream is read to its
// end, failing on the first error it reports.
//
// It may import the Docker client types and the standard library only.
package images
