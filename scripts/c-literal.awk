# c-literal.awk - bytes as C string literal text, for scripts/embed-*.sh:
# reads `od -An -v -tu1 FILE` (one decimal byte per field) and prints one
# quoted C line per source line, tab-indented. Bytes are copied exactly:
# every byte that is not plain printable ASCII becomes an escape, and '?'
# is escaped so that no "??x" trigraph survives -std=c11. A NUL byte is
# refused (the text is used as a C string). Set -v file=NAME for messages.
BEGIN { line = "" }
{
	for (k = 1; k <= NF; k++) {
		b = $k + 0
		if (b == 0) {
			print "c-literal.awk: " file ": NUL byte" > "/dev/stderr"
			bad = 1
			exit 1
		}
		if (b == 10) {
			print "\t\"" line "\\n\""
			line = ""
		} else if (b == 92) {
			line = line "\\\\"
		} else if (b == 34) {
			line = line "\\\""
		} else if (b == 63) {
			line = line "\\?"
		} else if (b == 9) {
			line = line "\\t"
		} else if (b >= 32 && b < 127) {
			line = line sprintf("%c", b)
		} else {
			# Always three octal digits: a following digit can
			# never extend the escape.
			line = line sprintf("\\%03o", b)
		}
	}
}
END {
	if (bad)
		exit 1
	if (line != "")
		print "\t\"" line "\""
}
