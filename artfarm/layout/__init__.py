"""Print layout: the interior, cover and web PDFs of a book, laid out from book.yaml and the final art.

The pieces, each in its own module:
    geometry    trim, bleed, safe area, gutter, spine and cover sizes (inches and points)
    fonts       the typeface named in book.yaml, registered for embedding
    art         crop-to-fill around a focal point, effective ppi, encoding one image at a time
    placeholder clearly marked stand-in art for --placeholders
    textfit     wrap and shrink text into its box, or say how much it overflows
    autoplace   the calmest text region, WCAG contrast and the soft panel behind text
    errors      missing art, text overflow, unknown font, failed preflight
    plan        the per-page decisions (recorded in layout/layout.json)
    coverplan   the cover sheet: back text, barcode area, spine text, front title
    draw        draws a plan onto a ReportLab canvas
    pdfstream   writes the PDF with the art streamed in one image at a time
    preflight   the print checks (ppi, page count)
    export      the command's library: cache, write every file atomically, report
"""
