"""Evidence files (证据材料): photos and PDFs attached to a finding's filing and
to its rectification.

- ``content``: what a file is, judged by its first bytes (never by its name).
- ``store``: the content-addressed store on disk (no Flask).
- ``uploads``: turning a form's files into checked, stored attachment records.
- ``web``: the download route, for those who may see the finding.
"""
