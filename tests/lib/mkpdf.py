#!/usr/bin/env python3
"""mkpdf.py OUT PAGE_TEXT...: write a minimal PDF, one page per argument.

Each page's text may hold several lines separated by "\\n".  Standard
library only; enough PDF for pdftotext (Helvetica, WinAnsi text).
"""
import sys


def pdf(pages):
    objs = []

    def add(body):
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>")
    pages_id = len(objs) + 2 * len(pages) + 1
    kids = []
    for text in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
        for line in text.split("\n"):
            esc = (line.replace("\\", "\\\\").replace("(", "\\(")
                   .replace(")", "\\)").encode("cp1252", "replace"))
            ops.append(b"(" + esc + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream +
                      b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox "
                        b"[0 0 612 792] /Contents %d 0 R /Resources << "
                        b"/Font << /F1 %d 0 R >> >> >>"
                        % (pages_id, content, font)))
    assert add(b"<< /Type /Pages /Kids [" +
               b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % len(kids)) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, catalog, xref))
    return bytes(out)


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(pdf([a.replace("\\n", "\n") for a in sys.argv[2:]]))
