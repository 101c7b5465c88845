# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Sphinx configuration of the documentation (tox -e docs).

The operators' pages are Markdown (MyST's parser), which tests read for
the commands and configuration they give; the front page takes the
README's introduction; the configuration reference comes from the options
themselves (oslo_config.sphinxext).
"""

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'myst_parser',
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
master_doc = 'index'
project = 'Hyper-V cluster driver'
copyright = '2026-present, hyperv-cluster developers'
pygments_style = 'native'
html_theme = 'openstackdocs'
html_static_path = ['_static']
exclude_patterns = ['_build']

# A page's sections may skip a level (a ### under a #).
suppress_warnings = ['myst.header']
# The pages' fenced blocks name languages Pygments may not know (powershell
# is known; "text" blocks are plain).
highlight_language = 'none'

# openstackdocstheme: no Launchpad project, no opendev repository.
openstackdocs_repo_name = 'hyperv-cluster'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
