// Package web is callgate's HTTP surface: health and readiness on the public listener
// today; the embedded agent page, JS SDK, admin page and business API as they land.
package web
