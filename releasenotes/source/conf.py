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

"""Sphinx configuration of the release notes (tox -e releasenotes)."""

extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

source_suffix = '.rst'
master_doc = 'index'
project = 'Hyper-V cluster Release Notes'
copyright = '2026-present, hyperv-cluster developers'
pygments_style = 'native'
html_theme = 'openstackdocs'
html_static_path = ['_static']
html_use_index = False

# openstackdocstheme: no Launchpad project, no opendev repository.
openstackdocs_repo_name = 'hyperv-cluster'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
